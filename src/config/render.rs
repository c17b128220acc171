//! Diagnostics rendered like rustc, never coloured:
//!
//! ```text
//! error: virtual_router_id must be between 1 and 255, found 300
//!   --> /etc/baton/baton.conf:12:23
//!    |
//! 12 |     virtual_router_id 300
//!    |                       ^^^ expected a number from 1 to 255
//! ```

use super::diag::{Diagnostic, Severity};
use super::source::Sources;
use std::fmt::Write;

const TAB: &str = "    ";

/// One diagnostic, ending with a newline.
pub fn render(d: &Diagnostic, sources: &Sources) -> String {
    let label = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let span = d.span;
    let number = span.line.to_string();
    let pad = " ".repeat(number.len());
    let mut out = String::new();
    let _ = writeln!(out, "{label}: {}", d.message);
    let _ = writeln!(
        out,
        "{pad}--> {}:{}:{}",
        sources.path(span.file),
        span.line,
        span.col
    );
    let Some(text) = sources.line(span.file, span.line) else {
        if let Some(help) = &d.help {
            let _ = writeln!(out, "{pad} = help: {help}");
        }
        return out;
    };
    let text = mask_key(text);
    let (shown, start, width) = caret_geometry(&text, span.col, span.len);
    let _ = writeln!(out, "{pad} |");
    let _ = writeln!(out, "{number} | {shown}");
    let carets = "^".repeat(width);
    let indent = " ".repeat(start);
    match &d.help {
        Some(help) => {
            let _ = writeln!(out, "{pad} | {indent}{carets} {help}");
        }
        None => {
            let _ = writeln!(out, "{pad} | {indent}{carets}");
        }
    }
    out
}

/// An `auth_hmac` `key ID VALUE` line with its inline value masked (one `*` per
/// character, so the carets stay in place): a diagnostic never shows a key. A `file:`
/// value is a path and stays.
fn mask_key(line: &str) -> std::borrow::Cow<'_, str> {
    // The byte offset where each whitespace-separated word starts.
    let starts: Vec<usize> = line
        .char_indices()
        .filter(|&(i, c)| {
            !c.is_whitespace()
                && line[..i]
                    .chars()
                    .next_back()
                    .is_none_or(char::is_whitespace)
        })
        .map(|(i, _)| i)
        .collect();
    let (Some(&first), Some(&value)) = (starts.first(), starts.get(2)) else {
        return line.into();
    };
    let is_key = line[first..].split_whitespace().next() == Some("key");
    if !is_key || line[value..].trim_start_matches('"').starts_with("file:") {
        return line.into();
    }
    // The value and everything after it (a quoted key may hold spaces).
    let masked: String = line[value..]
        .chars()
        .map(|c| if c.is_whitespace() { c } else { '*' })
        .collect();
    format!("{}{masked}", &line[..value]).into()
}

/// The line with tabs expanded, and where the carets start and how many there are, for a
/// 1-based character column and a length in characters.
fn caret_geometry(text: &str, col: u32, len: u32) -> (String, usize, usize) {
    let first = col.saturating_sub(1) as usize;
    let last = first + len.max(1) as usize;
    let mut shown = String::new();
    let mut start = None;
    let mut end = None;
    for (i, c) in text.chars().enumerate() {
        if i == first {
            start = Some(shown.chars().count());
        }
        if i == last {
            end = Some(shown.chars().count());
        }
        if c == '\t' {
            shown.push_str(TAB);
        } else {
            shown.push(c);
        }
    }
    let total = shown.chars().count();
    let start = start.unwrap_or(total);
    let end = end.unwrap_or(total).max(start + 1);
    (shown, start, end - start)
}

/// All diagnostics, separated by blank lines.
pub fn render_all(diagnostics: &[Diagnostic], sources: &Sources) -> String {
    diagnostics
        .iter()
        .map(|d| render(d, sources))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inline_hmac_key_is_masked_and_a_file_path_is_not() {
        assert_eq!(mask_key("  key 1 hex:00ff  # x"), "  key 1 ********  * *");
        assert_eq!(mask_key("\tkey 7 \"two words\""), "\tkey 7 **** ******");
        assert_eq!(mask_key("key 2 file:/etc/k"), "key 2 file:/etc/k");
        assert_eq!(mask_key("priority 100"), "priority 100");
        assert_eq!(mask_key("key 1"), "key 1");
    }
    use crate::config::source::Span;

    fn sources() -> (Sources, crate::config::source::FileId) {
        let mut s = Sources::new();
        let id = s.add("t.conf", "a\n\tpriority 300\n".to_string());
        (s, id)
    }

    #[test]
    fn tabs_are_expanded_and_carets_align() {
        let (s, file) = sources();
        let d = Diagnostic::error(
            Span {
                file,
                line: 2,
                col: 11,
                len: 3,
            },
            "bad",
        )
        .with_help("fix it");
        assert_eq!(
            render(&d, &s),
            "error: bad\n --> t.conf:2:11\n  |\n2 |     priority 300\n  |              ^^^ fix it\n"
        );
    }

    #[test]
    fn span_past_the_end_still_has_one_caret() {
        let (s, file) = sources();
        let d = Diagnostic::warning(
            Span {
                file,
                line: 1,
                col: 5,
                len: 9,
            },
            "w",
        );
        assert_eq!(
            render(&d, &s),
            "warning: w\n --> t.conf:1:5\n  |\n1 | a\n  |  ^\n"
        );
    }
}
