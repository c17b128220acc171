//! Reading argument values: numbers in ranges, durations, booleans, addresses, commands.

use super::Ctx;
use crate::config::model::{Command, Hook, RunAs};
use crate::config::parse::Item;
use crate::config::source::Spanned;
use std::net::IpAddr;

/// The single argument of `item`; reports a missing value, warns about extra ones.
pub fn one_arg<'a>(cx: &mut Ctx, item: &'a Item, example: &str) -> Option<&'a Spanned<String>> {
    let kw = &item.keyword.value;
    let Some(first) = item.args.first() else {
        cx.error(
            item.keyword.span,
            format!("`{kw}` needs a value"),
            Some(format!("for example: {kw} {example}")),
        );
        return None;
    };
    extra_args(cx, item, 1);
    Some(first)
}

/// Warns about arguments after the first `used` ones.
pub fn extra_args(cx: &mut Ctx, item: &Item, used: usize) {
    if let Some(extra) = item.args.get(used) {
        cx.warning(
            extra.span,
            format!(
                "unexpected argument `{}` to `{}`; ignored",
                extra.value, item.keyword.value
            ),
            None,
        );
    }
}

/// An integer in `lo..=hi`.
pub fn int_in(cx: &mut Ctx, kw: &str, arg: &Spanned<String>, lo: i64, hi: i64) -> Option<i64> {
    let help = Some(format!("expected a number from {lo} to {hi}"));
    match arg.value.parse::<i64>() {
        Ok(n) if (lo..=hi).contains(&n) => Some(n),
        Ok(n) => {
            cx.error(
                arg.span,
                format!("{kw} must be between {lo} and {hi}, found {n}"),
                help,
            );
            None
        }
        Err(_) => {
            cx.error(
                arg.span,
                format!("{kw} must be a number, found `{}`", arg.value),
                help,
            );
            None
        }
    }
}

/// The single argument of `item` as an integer in `lo..=hi`.
pub fn int_arg(cx: &mut Ctx, item: &Item, lo: i64, hi: i64) -> Option<i64> {
    let arg = one_arg(cx, item, &hi.to_string())?;
    int_in(cx, &item.keyword.value, arg, lo, hi)
}

/// A non-negative decimal number scaled by `10^digits` (e.g. digits 3: seconds to ms).
/// Returns `None` for anything else, including more fractional digits than `digits`.
pub fn fixed_point(s: &str, digits: u32) -> Option<u64> {
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w, f),
        None => (s, ""),
    };
    let all_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && frac.is_empty()) || !all_digits(whole) || !all_digits(frac) {
        return None;
    }
    let frac = frac.trim_end_matches('0');
    if frac.len() > digits as usize {
        return None;
    }
    let scale = 10u64.checked_pow(digits)?;
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let frac_value: u64 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    let frac_scale = 10u64.checked_pow(digits - frac.len() as u32)?;
    whole
        .checked_mul(scale)?
        .checked_add(frac_value * frac_scale)
}

/// Seconds (fractions allowed down to `digits`) in `0..=max` units of `10^-digits` s.
pub fn seconds_in(
    cx: &mut Ctx,
    kw: &str,
    arg: &Spanned<String>,
    digits: u32,
    max_units: u64,
) -> Option<u64> {
    let scale = 10u64.pow(digits);
    let max_s = max_units as f64 / scale as f64;
    match fixed_point(&arg.value, digits) {
        Some(v) if v <= max_units => Some(v),
        Some(_) => {
            cx.error(
                arg.span,
                format!("{kw} must be at most {max_s} seconds, found {}", arg.value),
                Some(format!("expected seconds from 0 to {max_s}")),
            );
            None
        }
        None => {
            cx.error(
                arg.span,
                format!("{kw} must be a number of seconds, found `{}`", arg.value),
                Some(format!(
                    "expected seconds like 1 or 0.5 (at most {digits} decimals)"
                )),
            );
            None
        }
    }
}

/// The single argument as seconds, in milliseconds, up to `max_s` seconds.
pub fn millis_arg(cx: &mut Ctx, item: &Item, max_s: u64) -> Option<u64> {
    let arg = one_arg(cx, item, "1")?;
    seconds_in(cx, &item.keyword.value, arg, 3, max_s * 1000)
}

/// `keyword [on|off|true|false|yes|no]`: no value means true.
pub fn bool_opt(cx: &mut Ctx, item: &Item) -> Option<bool> {
    let Some(arg) = item.args.first() else {
        return Some(true);
    };
    extra_args(cx, item, 1);
    match arg.value.to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" => Some(true),
        "off" | "false" | "no" => Some(false),
        other => {
            cx.error(
                arg.span,
                format!("{} must be a boolean, found `{other}`", item.keyword.value),
                Some("expected on, off, true, false, yes or no".to_string()),
            );
            None
        }
    }
}

/// A keyword that takes no value.
pub fn flag(cx: &mut Ctx, item: &Item) -> bool {
    extra_args(cx, item, 0);
    true
}

pub fn ip(cx: &mut Ctx, kw: &str, arg: &Spanned<String>) -> Option<IpAddr> {
    match arg.value.parse::<IpAddr>() {
        Ok(a) => Some(a),
        Err(_) => {
            cx.error(
                arg.span,
                format!("{kw}: `{}` is not an IP address", arg.value),
                Some("expected an address like 192.0.2.1 or 2001:db8::1".to_string()),
            );
            None
        }
    }
}

pub fn ip_arg(cx: &mut Ctx, item: &Item) -> Option<IpAddr> {
    let arg = one_arg(cx, item, "192.0.2.1")?;
    ip(cx, &item.keyword.value, arg)
}

/// Splits a command line on whitespace; single or double quotes keep spaces, a backslash
/// escapes the next character. `None` when it is empty.
pub fn split_command(line: &str) -> Option<Command> {
    let mut words: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    let mut quote: Option<char> = None;
    let mut shell = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => current.get_or_insert_with(String::new).push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                current.get_or_insert_with(String::new);
            }
            (None, '\\') => {
                let next = chars.next().unwrap_or('\\');
                current.get_or_insert_with(String::new).push(next);
            }
            (None, c) if c.is_whitespace() => {
                if let Some(w) = current.take() {
                    words.push(w);
                }
            }
            (None, c) => {
                shell |= SHELL_CHARS.contains(c);
                current.get_or_insert_with(String::new).push(c)
            }
        }
    }
    if let Some(w) = current.take() {
        words.push(w);
    }
    let mut words = words.into_iter();
    let program = words.next()?;
    Some(Command {
        program,
        args: words.collect(),
        shell: shell.then(|| line.trim().to_string()),
    })
}

/// Characters that, unquoted, make a command line a shell line.
const SHELL_CHARS: &str = "|&;<>()$`*?[]{}~\n";

/// Of those, the ones that make it more than one command or redirect or expand something:
/// under `enable_script_security` such a line cannot run (what it runs cannot all be
/// checked). A line with only glob characters (`*?[]{}~`) then runs directly with its words,
/// as keepalived runs every script (execve, no shell).
const SHELL_OPERATORS: &str = "|&;<>()$`\n";

/// Whether `line` has an unquoted shell operator (see [`SHELL_OPERATORS`]).
pub fn has_shell_operators(line: &str) -> bool {
    let mut quote: Option<char> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '\\') => {
                chars.next();
            }
            (None, c) if SHELL_OPERATORS.contains(c) => return true,
            (None, _) => {}
        }
    }
    false
}

/// A command from one argument (usually a quoted string).
pub fn command(cx: &mut Ctx, kw: &str, arg: &Spanned<String>) -> Option<Command> {
    let cmd = split_command(&arg.value);
    match &cmd {
        None => cx.error(
            arg.span,
            format!("{kw}: the command is empty"),
            Some("expected a program path, e.g. \"/usr/local/bin/notify.sh arg\"".to_string()),
        ),
        // The daemon would refuse to run it (the commands a shell line runs cannot all be
        // checked): say so now, not when the hook should promote a database.
        Some(c) if cx.script_security && c.shell.as_deref().is_some_and(has_shell_operators) => cx
            .error(
                arg.span,
                format!("{kw}: a shell line cannot run under enable_script_security"),
                Some(
                    "the commands a shell line runs cannot all be checked; put the line in a \
                 root-owned script and give that script's path here"
                        .to_string(),
                ),
            ),
        Some(_) => {}
    }
    cmd
}

/// `user [group]` from `args`.
pub fn run_as(args: &[Spanned<String>]) -> Option<RunAs> {
    let user = args.first()?;
    Some(RunAs {
        user: user.value.clone(),
        group: args.get(1).map(|g| g.value.clone()),
    })
}

/// `keyword COMMAND [user [group]]`.
pub fn hook(cx: &mut Ctx, item: &Item) -> Option<Hook> {
    let arg = one_arg_keep_rest(cx, item, "\"/usr/local/bin/notify.sh arg\"")?;
    let command = command(cx, &item.keyword.value, arg)?;
    extra_args(cx, item, 3);
    Some(Hook {
        command,
        run_as: run_as(&item.args[1..]),
    })
}

/// Like [`one_arg`] but without complaining about more arguments.
pub fn one_arg_keep_rest<'a>(
    cx: &mut Ctx,
    item: &'a Item,
    example: &str,
) -> Option<&'a Spanned<String>> {
    let kw = &item.keyword.value;
    let first = item.args.first();
    if first.is_none() {
        cx.error(
            item.keyword.span,
            format!("`{kw}` needs a value"),
            Some(format!("for example: {kw} {example}")),
        );
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_point_numbers() {
        assert_eq!(fixed_point("1", 2), Some(100));
        assert_eq!(fixed_point("0.05", 2), Some(5));
        assert_eq!(fixed_point(".5", 2), Some(50));
        assert_eq!(fixed_point("1.50", 2), Some(150));
        assert_eq!(fixed_point("0.005", 2), None);
        assert_eq!(fixed_point("-1", 2), None);
        assert_eq!(fixed_point("", 2), None);
        assert_eq!(fixed_point(".", 2), None);
        assert_eq!(fixed_point("1e3", 2), None);
        assert_eq!(fixed_point("99999999999999999999", 3), None);
    }

    #[test]
    fn commands() {
        let c = split_command("/usr/local/bin/vrrp.sh  BACKUP   VI_1").unwrap();
        assert_eq!(c.program, "/usr/local/bin/vrrp.sh");
        assert_eq!(c.args, vec!["BACKUP", "VI_1"]);
        let c = split_command("bash -c '</dev/tcp/127.0.0.1/80'").unwrap();
        assert_eq!(c.args, vec!["-c", "</dev/tcp/127.0.0.1/80"]);
        assert_eq!(split_command("   "), None);
        assert_eq!(c.shell, None);
        let c = split_command("[[ -f /etc/down ]] && exit 1 || exit 0").unwrap();
        assert_eq!(
            c.shell.as_deref(),
            Some("[[ -f /etc/down ]] && exit 1 || exit 0")
        );
        let c = split_command("/bin/echo 'a|b' \"x > y\"").unwrap();
        assert_eq!(c.shell, None, "quoted metacharacters need no shell");
        assert_eq!(split_command("a ''").unwrap().args, vec![""]);
    }
}
