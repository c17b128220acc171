//! From files to one token stream: line continuation, comments, conditional `@id` lines,
//! `$NAME=value` parameters and their substitution, and `include` with globs relative to the
//! including file. Every token keeps the file, line and column it came from.

use super::diag::Diagnostic;
use super::lex::{self, Lexeme};
use super::source::{FileId, Sources, Span};
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

/// A token of the whole configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenKind {
    Word(String),
    Open,
    Close,
    /// The end of a logical line: keywords and their arguments end here.
    LineEnd,
}

/// Options that change how a configuration is read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// The config id that `@id` lines are compared with (keepalived's `-i`); `None` keeps
    /// only `@^id` lines.
    pub config_id: Option<String>,
}

/// Access to files for `include`; tests and `parse_str` use [`NoFiles`].
pub trait Files {
    fn read(&self, path: &Path) -> io::Result<String>;
    /// The paths matching a glob pattern, sorted.
    fn glob(&self, pattern: &str) -> Result<Vec<PathBuf>, String>;
    /// The path that identifies a file for include-cycle detection (the real filesystem
    /// resolves symlinks, `.` and `..`); the path itself by default.
    fn canonical(&self, path: &Path) -> PathBuf {
        path.to_path_buf()
    }
}

/// The real filesystem.
pub struct RealFiles;

impl Files for RealFiles {
    /// Reads a regular file of at most [`MAX_CONFIG_BYTES`], without blocking on a FIFO or
    /// a device (opened non-blocking, refused unless it is a regular file).
    fn read(&self, path: &Path) -> io::Result<String> {
        use std::io::Read;
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file",
            ));
        }
        let limit = MAX_CONFIG_BYTES as u64;
        let mut bytes = Vec::new();
        file.take(limit + 1).read_to_end(&mut bytes)?;
        if bytes.len() as u64 > limit {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("larger than {} MiB", MAX_CONFIG_BYTES >> 20),
            ));
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn canonical(&self, path: &Path) -> PathBuf {
        std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
    }

    fn glob(&self, pattern: &str) -> Result<Vec<PathBuf>, String> {
        let paths = glob::glob(pattern).map_err(|e| e.to_string())?;
        let mut found: Vec<PathBuf> = paths.filter_map(Result::ok).collect();
        found.sort();
        Ok(found)
    }
}

/// No filesystem: every `include` is reported and skipped.
pub struct NoFiles;

impl Files for NoFiles {
    fn read(&self, _path: &Path) -> io::Result<String> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "no filesystem access",
        ))
    }

    fn glob(&self, _pattern: &str) -> Result<Vec<PathBuf>, String> {
        Err("include is not available when parsing text without a file".to_string())
    }
}

const INCLUDE_KEYWORDS: [&str; 6] = [
    "include", "includer", "includem", "includew", "includeb", "includea",
];
const MAX_INCLUDE_DEPTH: usize = 16;
/// The most files one configuration may read, the main file included: a glob that matches
/// the directory it is in, or files that include each other side by side, could otherwise
/// fan out exponentially.
pub const MAX_CONFIG_FILES: usize = 1000;
/// The most bytes one configuration may read, over all its files (and the most one file
/// may have).
pub const MAX_CONFIG_BYTES: usize = 16 * 1024 * 1024;
const MAX_SUBSTITUTION_DEPTH: usize = 16;
const MAX_LINE_LEN: usize = 64 * 1024;
/// All text that parameter substitution may produce: a multi-line parameter that uses
/// itself can otherwise multiply its lines at every level (found by the config fuzzer).
const MAX_SUBSTITUTED: usize = 4 * 1024 * 1024;

/// Where one byte of a logical line came from.
#[derive(Clone, Copy, Debug)]
struct Origin {
    line: u32,
    col: u32,
    end_col: u32,
}

/// A logical line with the origin of each of its bytes.
#[derive(Clone, Debug)]
struct Line {
    file: FileId,
    text: String,
    origin: Vec<Origin>,
}

impl Line {
    fn physical(file: FileId, number: u32, text: &str) -> Line {
        let mut origin = Vec::with_capacity(text.len());
        for (col, c) in text.chars().enumerate() {
            let col = u32::try_from(col + 1).unwrap_or(u32::MAX);
            let o = Origin {
                line: number,
                col,
                end_col: col,
            };
            origin.extend(std::iter::repeat_n(o, c.len_utf8()));
        }
        Line {
            file,
            text: text.to_string(),
            origin,
        }
    }

    fn empty(file: FileId) -> Line {
        Line {
            file,
            text: String::new(),
            origin: Vec::new(),
        }
    }

    fn push_line(&mut self, other: &Line) {
        self.text.push_str(&other.text);
        self.origin.extend_from_slice(&other.origin);
    }

    fn push_str(&mut self, s: &str, o: Origin) {
        self.text.push_str(s);
        self.origin.extend(std::iter::repeat_n(o, s.len()));
    }

    /// The origin used for text with no position of its own (the end of the line).
    fn end_origin(&self, number: u32) -> Origin {
        match self.origin.last() {
            Some(o) => Origin {
                line: o.line,
                col: o.end_col + 1,
                end_col: o.end_col + 1,
            },
            None => Origin {
                line: number,
                col: 1,
                end_col: 1,
            },
        }
    }

    fn slice(&self, start: usize, end: usize) -> Line {
        Line {
            file: self.file,
            text: self.text[start..end].to_string(),
            origin: self.origin[start..end].to_vec(),
        }
    }

    fn span(&self, start: usize, end: usize) -> Span {
        let Some(first) = self.origin.get(start).copied() else {
            let o = self.end_origin(1);
            return Span {
                file: self.file,
                line: o.line,
                col: o.col,
                len: 1,
            };
        };
        let last_col = self.origin[start..end.min(self.origin.len())]
            .iter()
            .filter(|o| o.line == first.line)
            .map(|o| o.end_col)
            .max()
            .unwrap_or(first.col);
        Span {
            file: self.file,
            line: first.line,
            col: first.col,
            len: last_col.saturating_sub(first.col).saturating_add(1),
        }
    }

    /// Splits at `\n` (kept from multi-line parameter definitions).
    fn split_lines(&self) -> Vec<Line> {
        let mut out = Vec::new();
        let mut start = 0;
        for (i, b) in self.text.bytes().enumerate() {
            if b == b'\n' {
                out.push(self.slice(start, i));
                start = i + 1;
            }
        }
        out.push(self.slice(start, self.text.len()));
        out
    }
}

/// The result of expanding a configuration: tokens and diagnostics.
pub struct Expanded {
    pub tokens: Vec<Token>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Reads the configuration: the given text is the main file.
pub fn expand(
    sources: &mut Sources,
    files: &dyn Files,
    options: &Options,
    path: &str,
    text: String,
) -> Expanded {
    let mut expander = Expander {
        sources,
        files,
        options,
        params: HashMap::new(),
        dirs: Vec::new(),
        tokens: Vec::new(),
        diagnostics: Vec::new(),
        substituted: 0,
        stack: Vec::new(),
        files_read: 1,
        bytes_read: text.len(),
        exhausted: false,
    };
    let dir = Path::new(path).parent().map(Path::to_path_buf);
    let canonical = files.canonical(Path::new(path));
    expander.stack.push((canonical, path.to_string()));
    expander.expand_file(path, text, dir);
    Expanded {
        tokens: expander.tokens,
        diagnostics: expander.diagnostics,
    }
}

struct Expander<'a> {
    sources: &'a mut Sources,
    files: &'a dyn Files,
    options: &'a Options,
    params: HashMap<String, String>,
    /// Directories of the files being read, innermost last (for includes and `${_PWD}`).
    dirs: Vec<Option<PathBuf>>,
    tokens: Vec<Token>,
    diagnostics: Vec<Diagnostic>,
    /// Bytes produced by substitution so far (bounded by `MAX_SUBSTITUTED`).
    substituted: usize,
    /// The files being read, outermost first: canonical path and path as shown.
    stack: Vec<(PathBuf, String)>,
    /// Files and bytes read so far (bounded by `MAX_CONFIG_FILES`, `MAX_CONFIG_BYTES`).
    files_read: usize,
    bytes_read: usize,
    /// A cap was reached: every later include is skipped (reported once).
    exhausted: bool,
}

impl Expander<'_> {
    fn expand_file(&mut self, path: &str, text: String, dir: Option<PathBuf>) {
        let file = self.sources.add(path, text.clone());
        self.dirs.push(dir);
        let mut pending = Line::empty(file);
        let mut continued = false;
        for (index, raw) in text.split('\n').enumerate() {
            let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            let code = lex::strip_comment(raw).trim_end();
            if continued {
                let sep = pending.end_origin(number);
                pending.push_str("\n", sep);
            }
            match code.strip_suffix('\\') {
                Some(head) => {
                    pending.push_line(&Line::physical(file, number, head));
                    continued = true;
                }
                None => {
                    pending.push_line(&Line::physical(file, number, code));
                    let line = std::mem::replace(&mut pending, Line::empty(file));
                    self.process(line, 0);
                    continued = false;
                }
            }
        }
        if continued {
            self.process(pending, 0);
        }
        self.dirs.pop();
    }

    /// Expands one line (substituting parameters, recursively) into tokens. Returns false
    /// when substitution ran away: the caller then drops the rest of that expansion, so a
    /// self-using parameter gives one error, not one per copy.
    fn process(&mut self, mut line: Line, depth: usize) -> bool {
        if line.text.trim().is_empty() {
            return true;
        }
        if depth > MAX_SUBSTITUTION_DEPTH || line.text.len() > MAX_LINE_LEN {
            let span = line.span(0, line.text.len());
            self.diagnostics.push(
                Diagnostic::error(span, "parameter substitution does not terminate")
                    .with_help("a parameter's value refers to itself"),
            );
            return false;
        }
        if let Some(cond) = lex::condition(&line.text) {
            if !cond.holds(self.options.config_id.as_deref()) {
                return true;
            }
            line = line.slice(cond.rest, line.text.len());
        }
        let trimmed = line.text.trim_start();
        if trimmed.starts_with("~SEQ") || trimmed.starts_with("~LST") {
            let start = line.text.len() - trimmed.len();
            let span = line.span(start, start + 4);
            self.diagnostics.push(
                Diagnostic::warning(span, "~SEQ and ~LST blocks are not supported; line ignored")
                    .with_help("write the lines out one by one"),
            );
            return true;
        }
        if let Some((name, value_start)) = lex::definition(&line.text) {
            let value = line.text[value_start..].trim().to_string();
            self.params.insert(name, value);
            return true;
        }
        if let Some(substituted) = self.substitute(&line) {
            if self.substituted > MAX_SUBSTITUTED {
                return false;
            }
            self.substituted += substituted.text.len();
            if self.substituted > MAX_SUBSTITUTED {
                let span = line.span(0, line.text.len());
                self.diagnostics.push(
                    Diagnostic::error(span, "parameter substitution expands to more than 4 MiB")
                        .with_help("a multi-line parameter probably uses itself"),
                );
                return false;
            }
            return substituted
                .split_lines()
                .into_iter()
                .all(|sub| self.process(sub, depth + 1));
        }
        line.text = line.text.replace('\n', " ");
        self.tokenize(&line);
        true
    }

    fn param_value(&self, name: &str) -> Option<String> {
        match name {
            "_PWD" => Some(
                self.dirs
                    .last()
                    .cloned()
                    .flatten()
                    .map(|d| d.display().to_string())
                    .unwrap_or_else(|| ".".to_string()),
            ),
            "_INSTANCE" => Some(self.options.config_id.clone().unwrap_or_default()),
            "_HASH" => Some("#".to_string()),
            "_BANG" => Some("!".to_string()),
            _ => self.params.get(name).cloned(),
        }
    }

    /// Replaces every defined `$NAME` (followed by whitespace or the end) and `${NAME}` once.
    /// Returns `None` when nothing was replaced.
    fn substitute(&self, line: &Line) -> Option<Line> {
        let text = &line.text;
        let bytes = text.as_bytes();
        let mut out = Line::empty(line.file);
        let mut changed = false;
        let mut i = 0;
        let mut copied = 0;
        while i < bytes.len() {
            if bytes[i] != b'$' {
                i += 1;
                continue;
            }
            let Some((name, end)) = reference_at(text, i) else {
                i += 1;
                continue;
            };
            let Some(value) = self.param_value(name) else {
                i = end;
                continue;
            };
            out.push_line(&line.slice(copied, i));
            let span = line.span(i, end);
            let o = Origin {
                line: span.line,
                col: span.col,
                end_col: span.col + span.len - 1,
            };
            out.push_str(&value, o);
            changed = true;
            i = end;
            copied = end;
        }
        if !changed {
            return None;
        }
        out.push_line(&line.slice(copied, text.len()));
        Some(out)
    }

    fn tokenize(&mut self, line: &Line) {
        let (tokens, errors) = lex::tokenize(&line.text);
        for e in errors {
            let span = line.span(e.start, e.end);
            self.diagnostics
                .push(Diagnostic::error(span, e.message).with_help("add the closing `\"`"));
        }
        if let Some(first) = tokens.first()
            && let Lexeme::Word(word) = &first.lexeme
            && INCLUDE_KEYWORDS.contains(&word.as_str())
        {
            self.include(line, &tokens);
            return;
        }
        for t in &tokens {
            let kind = match &t.lexeme {
                Lexeme::Word(w) => TokenKind::Word(w.clone()),
                Lexeme::Open => TokenKind::Open,
                Lexeme::Close => TokenKind::Close,
            };
            let span = line.span(t.start, t.end);
            self.tokens.push(Token { kind, span });
        }
        if !tokens.is_empty() {
            let end = line.text.len();
            let span = line.span(end, end);
            self.tokens.push(Token {
                kind: TokenKind::LineEnd,
                span,
            });
        }
    }

    fn include(&mut self, line: &Line, tokens: &[lex::LineToken]) {
        if self.exhausted {
            return;
        }
        let keyword_span = line.span(tokens[0].start, tokens[0].end);
        let Some(arg) = tokens.get(1) else {
            self.diagnostics.push(
                Diagnostic::error(keyword_span, "include needs a file name or pattern")
                    .with_help("for example: include /etc/baton/conf.d/*.conf"),
            );
            return;
        };
        let span = line.span(arg.start, tokens.last().map_or(arg.end, |t| t.end));
        let Lexeme::Word(pattern) = &arg.lexeme else {
            self.diagnostics.push(Diagnostic::error(
                span,
                "include needs a file name or pattern",
            ));
            return;
        };
        if tokens.len() > 2 {
            self.diagnostics.push(
                Diagnostic::warning(span, "include takes one pattern; the rest is ignored")
                    .with_help("put each pattern on its own include line"),
            );
        }
        if self.dirs.len() > MAX_INCLUDE_DEPTH {
            self.diagnostics.push(
                Diagnostic::error(span, "includes nested too deeply")
                    .with_help("an included file probably includes itself"),
            );
            return;
        }
        let full = match self.dirs.last().cloned().flatten() {
            Some(dir) if Path::new(pattern).is_relative() => dir.join(pattern),
            _ => PathBuf::from(pattern),
        };
        let full = full.display().to_string();
        let paths = match self.files.glob(&full) {
            Ok(paths) => paths,
            Err(e) => {
                self.diagnostics
                    .push(Diagnostic::warning(span, format!("include ignored: {e}")));
                return;
            }
        };
        if paths.is_empty() {
            self.diagnostics.push(Diagnostic::warning(
                span,
                format!("include `{full}` matched no files"),
            ));
        }
        for path in paths {
            if self.exhausted {
                return;
            }
            self.include_file(&path, span);
        }
    }

    fn include_file(&mut self, path: &Path, span: Span) {
        let shown = path.display().to_string();
        let canonical = self.files.canonical(path);
        if let Some(start) = self.stack.iter().position(|(c, _)| *c == canonical) {
            let chain: Vec<&str> = self.stack[start..]
                .iter()
                .map(|(_, p)| p.as_str())
                .chain(std::iter::once(shown.as_str()))
                .collect();
            self.diagnostics.push(
                Diagnostic::error(span, format!("include cycle: {}", chain.join(" includes ")))
                    .with_help(
                        "a file cannot include itself, directly or through other files; \
                     narrow the pattern (a glob must not match the file it is in)",
                    ),
            );
            return;
        }
        if self.files_read >= MAX_CONFIG_FILES {
            self.exhausted = true;
            self.diagnostics.push(
                Diagnostic::error(
                    span,
                    format!(
                        "too many configuration files: {shown} would be file number {}, \
                         over the limit of {MAX_CONFIG_FILES}; it and every later include \
                         are not read",
                        self.files_read + 1
                    ),
                )
                .with_help(
                    "the same files are probably included again and again; include each once",
                ),
            );
            return;
        }
        match self.files.read(path) {
            Ok(text) => {
                self.files_read += 1;
                self.bytes_read = self.bytes_read.saturating_add(text.len());
                if self.bytes_read > MAX_CONFIG_BYTES {
                    self.exhausted = true;
                    self.diagnostics.push(
                        Diagnostic::error(
                            span,
                            format!(
                                "configuration too large: with {shown} the files read come to \
                                 more than {} MiB; it and every later include are not read",
                                MAX_CONFIG_BYTES >> 20
                            ),
                        )
                        .with_help("the same files are probably included again and again; include each once"),
                    );
                    return;
                }
                let dir = path.parent().map(Path::to_path_buf);
                self.stack.push((canonical, shown.clone()));
                self.expand_file(&shown, text, dir);
                self.stack.pop();
            }
            Err(e) => self.diagnostics.push(Diagnostic::error(
                span,
                format!("cannot read included file {shown}: {e}"),
            )),
        }
    }
}

/// A parameter reference at byte `i` (which holds `$`): its name and end offset.
fn reference_at(text: &str, i: usize) -> Option<(&str, usize)> {
    let rest = &text[i + 1..];
    if let Some(braced) = rest.strip_prefix('{') {
        let close = braced.find('}')?;
        let name = &braced[..close];
        return lex::is_param_name(name).then_some((name, i + 2 + close + 1));
    }
    let len = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    let name = &rest[..len];
    let followed_ok = rest[len..].chars().next().is_none_or(char::is_whitespace);
    (lex::is_param_name(name) && followed_ok).then_some((name, i + 1 + len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str, config_id: Option<&str>) -> (Vec<String>, Vec<Diagnostic>) {
        let mut sources = Sources::new();
        let options = Options {
            config_id: config_id.map(str::to_string),
        };
        let out = expand(&mut sources, &NoFiles, &options, "t.conf", text.to_string());
        let mut lines = vec![String::new()];
        for t in out.tokens {
            let last = lines.last_mut().unwrap_or_else(|| unreachable!());
            match t.kind {
                TokenKind::Word(w) => {
                    if !last.is_empty() {
                        last.push(' ');
                    }
                    last.push_str(&w);
                }
                TokenKind::Open => last.push_str(" {"),
                TokenKind::Close => last.push('}'),
                TokenKind::LineEnd => lines.push(String::new()),
            }
        }
        lines.pop();
        (lines, out.diagnostics)
    }

    #[test]
    fn conditional_lines() {
        let text = "@main router_id a\n@backup router_id b\n@^main x 1\n";
        assert_eq!(run(text, Some("main")).0, vec!["router_id a"]);
        assert_eq!(run(text, Some("backup")).0, vec!["router_id b", "x 1"]);
        assert_eq!(run(text, None).0, vec!["x 1"]);
    }

    #[test]
    fn parameters() {
        let text = "$ADDRESS_BASE=10.2.${ADDRESS_BASE_SUB}\n$ADDRESS_BASE_SUB=0\n\
                    ${ADDRESS_BASE}.100/32\n$ADDRESS_BASE_SUB=10\n${ADDRESS_BASE}.100/32\n\
                    priority $P\n$P=240\npriority $P\nx $Pz ${UNDEF}\n";
        let (lines, diags) = run(text, None);
        assert!(diags.is_empty());
        assert_eq!(
            lines,
            vec![
                "10.2.0.100/32",
                "10.2.10.100/32",
                "priority $P",
                "priority 240",
                "x $Pz ${UNDEF}"
            ]
        );
    }

    #[test]
    fn parameter_with_condition_and_hash() {
        let text = "@main $PRIORITY=240\n@backup $PRIORITY=200\npriority $PRIORITY\n\
                    $IF_MAIN=@main\n$IF_MAIN router_id r\nx ${_HASH}1\n";
        assert_eq!(run(text, Some("backup")).0, vec!["priority 200", "x #1"]);
        assert_eq!(
            run(text, Some("main")).0,
            vec!["priority 240", "router_id r", "x #1"]
        );
    }

    #[test]
    fn multiline_definition_keeps_lines() {
        let text = "$INST= \\\nvrrp_instance VI_${NUM} { \\\n  @high priority 130 \\\n  \
                    @low priority 120 \\\n}\n$NUM=0\n$INST\n$NUM=1\n$INST\n";
        assert_eq!(
            run(text, Some("low")).0,
            vec![
                "vrrp_instance VI_0 {",
                "priority 120",
                "}",
                "vrrp_instance VI_1 {",
                "priority 120",
                "}"
            ]
        );
    }

    #[test]
    fn line_continuation_joins_lines() {
        let (lines, _) = run("interface \\\n   eth0\nx", None);
        assert_eq!(lines, vec!["interface eth0", "x"]);
    }

    #[test]
    fn self_reference_stops() {
        let (_, diags) = run("$A=$A $A\nx $A\n", None);
        assert_eq!(diags.len(), 1);
        assert!(diags[0].message.contains("does not terminate"));
    }

    #[test]
    fn spans_point_at_source() {
        let mut sources = Sources::new();
        let out = expand(
            &mut sources,
            &NoFiles,
            &Options::default(),
            "t.conf",
            "$P=240\n  priority  \"$P\" $P\n".to_string(),
        );
        let spans: Vec<(u32, u32, u32)> = out
            .tokens
            .iter()
            .map(|t| (t.span.line, t.span.col, t.span.len))
            .collect();
        assert_eq!(spans, vec![(2, 3, 8), (2, 13, 4), (2, 18, 2), (2, 20, 1)]);
    }

    #[test]
    fn seq_is_reported() {
        let (lines, diags) = run("~SEQ(A, 1, 3) x $A\ny", None);
        assert_eq!(lines, vec!["y"]);
        assert_eq!(diags.len(), 1);
    }
}
