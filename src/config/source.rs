//! The loaded files' text, and the positions (`Span`) that point into it.

use serde::Serialize;

/// Index of a file in [`Sources`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct FileId(pub u32);

/// Where a token came from: file, 1-based line and column (in characters), and length in
/// characters (at least 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Span {
    pub file: FileId,
    pub line: u32,
    pub col: u32,
    pub len: u32,
}

/// A value with the span of the text it was read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Span) -> Self {
        Spanned { value, span }
    }
}

/// One loaded file.
#[derive(Clone, Debug)]
pub struct SourceFile {
    pub path: String,
    pub text: String,
}

/// All files read while loading a configuration, in the order they were read.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
}

impl Sources {
    pub fn new() -> Self {
        Sources::default()
    }

    /// Adds a file and returns its id.
    pub fn add(&mut self, path: &str, text: String) -> FileId {
        let id = FileId(u32::try_from(self.files.len()).unwrap_or(u32::MAX));
        self.files.push(SourceFile {
            path: path.to_string(),
            text,
        });
        id
    }

    pub fn get(&self, id: FileId) -> Option<&SourceFile> {
        self.files.get(id.0 as usize)
    }

    /// The path of a file, or `?` for an unknown id.
    pub fn path(&self, id: FileId) -> &str {
        self.get(id).map_or("?", |f| f.path.as_str())
    }

    /// The text of a 1-based line, without its line terminator.
    pub fn line(&self, id: FileId, line: u32) -> Option<&str> {
        let file = self.get(id)?;
        let index = usize::try_from(line).ok()?.checked_sub(1)?;
        file.text
            .split('\n')
            .nth(index)
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_one_based_and_strip_cr() {
        let mut s = Sources::new();
        let id = s.add("a.conf", "one\r\ntwo\nthree".to_string());
        assert_eq!(s.line(id, 1), Some("one"));
        assert_eq!(s.line(id, 3), Some("three"));
        assert_eq!(s.line(id, 0), None);
        assert_eq!(s.line(id, 4), None);
        assert_eq!(s.path(id), "a.conf");
        assert_eq!(s.path(FileId(9)), "?");
    }
}
