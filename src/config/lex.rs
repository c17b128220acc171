//! Lexing of one logical line: comments, quoted strings, words and braces.
//!
//! The line-level features that come before tokenizing (conditional `@id` lines,
//! `$NAME=value` definitions) are recognised here too; `expand` strings them together.

use nom::{
    IResult, Parser,
    branch::alt,
    bytes::complete::{tag, take_while, take_while_m_n, take_while1},
    character::complete::{anychar, char, satisfy},
    combinator::{opt, recognize},
    sequence::pair,
};

/// What a token is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lexeme {
    /// A word; double-quoted parts have their quotes removed and escapes applied.
    Word(String),
    Open,
    Close,
}

/// A token with its byte range in the line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineToken {
    pub lexeme: Lexeme,
    pub start: usize,
    pub end: usize,
}

/// A problem found while lexing a line, with its byte range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LexError {
    pub message: String,
    pub start: usize,
    pub end: usize,
}

/// Removes a `#` or `!` comment that is outside double quotes.
pub fn strip_comment(line: &str) -> &str {
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if in_quotes {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_quotes = false;
            }
        } else if c == '"' {
            in_quotes = true;
        } else if c == '#' || c == '!' {
            return &line[..i];
        }
    }
    line
}

/// A conditional prefix: `@id` (keep the line if the config id is `id`) or `@^id` (keep it
/// if it is not). Returns the condition and the byte offset of the rest of the line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    pub negated: bool,
    pub id: String,
    pub rest: usize,
}

impl Condition {
    /// Whether a line with this condition is kept for the given config id.
    pub fn holds(&self, config_id: Option<&str>) -> bool {
        (config_id == Some(self.id.as_str())) != self.negated
    }
}

/// Recognises a conditional prefix at the start of `line` (leading whitespace allowed).
pub fn condition(line: &str) -> Option<Condition> {
    let trimmed = line.trim_start();
    let lead = line.len() - trimmed.len();
    let parsed: IResult<&str, (Option<char>, &str)> = (
        char('@'),
        opt(char('^')),
        take_while(|c: char| !c.is_whitespace()),
    )
        .map(|(_, neg, id)| (neg, id))
        .parse(trimmed);
    let (rest, (neg, id)) = parsed.ok()?;
    let after = rest.trim_start();
    Some(Condition {
        negated: neg.is_some(),
        id: id.to_string(),
        rest: lead + (trimmed.len() - after.len()),
    })
}

fn name(input: &str) -> IResult<&str, &str> {
    recognize(pair(
        satisfy(|c: char| c.is_ascii_alphabetic() || c == '_'),
        take_while(|c: char| c.is_ascii_alphanumeric() || c == '_'),
    ))
    .parse(input)
}

/// Whether `s` is a valid parameter name.
pub fn is_param_name(s: &str) -> bool {
    matches!(name(s), Ok(("", _)))
}

/// A `$NAME=value` definition: the name and the byte offset where the value starts.
pub fn definition(line: &str) -> Option<(String, usize)> {
    let trimmed = line.trim_start();
    let lead = line.len() - trimmed.len();
    let parsed: IResult<&str, &str> = (char('$'), name, char('='))
        .map(|(_, n, _)| n)
        .parse(trimmed);
    let (rest, n) = parsed.ok()?;
    Some((n.to_string(), lead + trimmed.len() - rest.len()))
}

fn octal_escape(input: &str) -> IResult<&str, char> {
    take_while_m_n(1, 3, |c: char| c.is_digit(8))
        .map(|digits: &str| {
            let value = u32::from_str_radix(digits, 8).unwrap_or(0) & 0xff;
            char::from_u32(value).unwrap_or('\u{fffd}')
        })
        .parse(input)
}

fn hex_escape(input: &str) -> IResult<&str, char> {
    (char('x'), take_while1(|c: char| c.is_ascii_hexdigit()))
        .map(|(_, digits): (char, &str)| {
            let tail = &digits[digits.len().saturating_sub(2)..];
            let value = u32::from_str_radix(tail, 16).unwrap_or(0);
            char::from_u32(value).unwrap_or('\u{fffd}')
        })
        .parse(input)
}

fn control_escape(input: &str) -> IResult<&str, char> {
    (char('c'), anychar)
        .map(|(_, c)| {
            let value = u32::from(c.to_ascii_uppercase()) ^ 0x40;
            char::from_u32(value).unwrap_or('\u{fffd}')
        })
        .parse(input)
}

fn simple_escape(input: &str) -> IResult<&str, char> {
    anychar
        .map(|c| match c {
            'a' => '\u{7}',
            'b' => '\u{8}',
            'E' => '\u{1b}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'v' => '\u{b}',
            other => other,
        })
        .parse(input)
}

/// `\` followed by an escape as keepalived.conf(5) lists them.
fn escape(input: &str) -> IResult<&str, char> {
    let (input, _) = char('\\').parse(input)?;
    alt((octal_escape, hex_escape, control_escape, simple_escape)).parse(input)
}

/// The inside of a double-quoted string, up to (not including) the closing quote.
fn quoted_body(input: &str) -> IResult<&str, String> {
    let mut out = String::new();
    let mut rest = input;
    loop {
        if let Ok((r, plain)) = take_while1::<_, &str, ()>(|c| c != '"' && c != '\\')(rest) {
            out.push_str(plain);
            rest = r;
        } else if let Ok((r, c)) = escape(rest) {
            out.push(c);
            rest = r;
        } else {
            return Ok((rest, out));
        }
    }
}

/// An unquoted run: stops at whitespace, `"`, and braces (except `${...}` references).
fn unquoted(input: &str) -> IResult<&str, &str> {
    let mut end = 0;
    let bytes = input.as_bytes();
    while end < bytes.len() {
        let b = bytes[end];
        if b == b'$' && bytes.get(end + 1) == Some(&b'{') {
            match input[end..].find('}') {
                Some(close) => end += close + 1,
                None => end = bytes.len(),
            }
            continue;
        }
        if b.is_ascii_whitespace() || b == b'"' || b == b'{' || b == b'}' {
            break;
        }
        end += 1;
    }
    if end == 0 {
        return Err(nom::Err::Error(nom::error::Error::new(
            input,
            nom::error::ErrorKind::TakeWhile1,
        )));
    }
    Ok((&input[end..], &input[..end]))
}

enum Piece {
    Plain(String),
    Quoted(String, bool),
}

fn piece(input: &str) -> IResult<&str, Piece> {
    let quoted = (char('"'), quoted_body, opt(char('"')))
        .map(|(_, body, close)| Piece::Quoted(body, close.is_some()));
    let plain = unquoted.map(|s: &str| Piece::Plain(s.to_string()));
    alt((quoted, plain)).parse(input)
}

fn brace(input: &str) -> IResult<&str, Lexeme> {
    alt((
        tag("{").map(|_| Lexeme::Open),
        tag("}").map(|_| Lexeme::Close),
    ))
    .parse(input)
}

/// Splits a logical line (comments already removed) into tokens.
pub fn tokenize(line: &str) -> (Vec<LineToken>, Vec<LexError>) {
    let mut tokens = Vec::new();
    let mut errors = Vec::new();
    let mut rest = line;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        let start = line.len() - rest.len();
        if let Ok((r, lexeme)) = brace(rest) {
            tokens.push(LineToken {
                lexeme,
                start,
                end: start + 1,
            });
            rest = r;
            continue;
        }
        let mut word = String::new();
        while let Ok((r, p)) = piece(rest) {
            match p {
                Piece::Plain(s) => word.push_str(&s),
                Piece::Quoted(s, closed) => {
                    word.push_str(&s);
                    if !closed {
                        errors.push(LexError {
                            message: "unterminated double-quoted string".to_string(),
                            start: line.len() - rest.len(),
                            end: line.len(),
                        });
                    }
                }
            }
            rest = r;
        }
        let end = line.len() - rest.len();
        if end == start {
            // Cannot happen (every non-space character starts a piece or a brace), but a
            // lexer must always make progress.
            let skip = rest.chars().next().map_or(1, char::len_utf8);
            rest = &rest[skip..];
            continue;
        }
        tokens.push(LineToken {
            lexeme: Lexeme::Word(word),
            start,
            end,
        });
    }
    (tokens, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<Lexeme> {
        let (tokens, errors) = tokenize(line);
        assert!(errors.is_empty(), "{errors:?}");
        tokens.into_iter().map(|t| t.lexeme).collect()
    }

    fn w(s: &str) -> Lexeme {
        Lexeme::Word(s.to_string())
    }

    #[test]
    fn comments_outside_quotes_only() {
        assert_eq!(strip_comment("a b # c"), "a b ");
        assert_eq!(strip_comment("a ! c"), "a ");
        assert_eq!(strip_comment("x \"a # b\" # c"), "x \"a # b\" ");
        assert_eq!(strip_comment("x \"a \\\" # b\" ! c"), "x \"a \\\" # b\" ");
        assert_eq!(strip_comment("no comment"), "no comment");
    }

    #[test]
    fn words_quotes_and_braces() {
        assert_eq!(
            words("vrrp_instance VI_1{"),
            vec![w("vrrp_instance"), w("VI_1"), Lexeme::Open]
        );
        assert_eq!(words("192.0.2.2}"), vec![w("192.0.2.2"), Lexeme::Close]);
        assert_eq!(
            words("script \"killall -0 sshd\""),
            vec![w("script"), w("killall -0 sshd")]
        );
        assert_eq!(
            words("abcd\" efg h jkl \"mnop"),
            vec![w("abcd efg h jkl mnop")]
        );
        assert_eq!(words("a \"{ }\" b"), vec![w("a"), w("{ }"), w("b")]);
        assert_eq!(words("x ${UNDEF} y"), vec![w("x"), w("${UNDEF}"), w("y")]);
    }

    #[test]
    fn escapes_in_quotes() {
        assert_eq!(
            words(r#""a\tb\"c\\d\x41\101\cA""#),
            vec![w("a\tb\"c\\dAA\u{1}")]
        );
    }

    #[test]
    fn token_offsets() {
        let (tokens, _) = tokenize("  ab \"c d\" {");
        let ranges: Vec<_> = tokens.iter().map(|t| (t.start, t.end)).collect();
        assert_eq!(ranges, vec![(2, 4), (5, 10), (11, 12)]);
    }

    #[test]
    fn unterminated_quote_is_an_error() {
        let (tokens, errors) = tokenize("script \"abc");
        assert_eq!(tokens.len(), 2);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].start, 7);
    }

    #[test]
    fn conditions() {
        let c = condition("  @main router_id a").unwrap();
        assert_eq!((c.negated, c.id.as_str(), c.rest), (false, "main", 8));
        assert!(c.holds(Some("main")));
        assert!(!c.holds(None));
        let c = condition("@^main x").unwrap();
        assert!(c.negated);
        assert!(c.holds(None));
        assert!(!c.holds(Some("main")));
        assert_eq!(condition("router_id a"), None);
    }

    #[test]
    fn definitions() {
        assert_eq!(definition("$PRIO=240"), Some(("PRIO".to_string(), 6)));
        assert_eq!(definition("  $A_1= x"), Some(("A_1".to_string(), 7)));
        assert_eq!(definition("$1A=x"), None);
        assert_eq!(definition("$A =x"), None);
        assert!(is_param_name("_PWD"));
        assert!(!is_param_name("9x"));
    }
}
