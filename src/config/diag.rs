//! Diagnostics: what was wrong, where, and what would be right.

use super::source::Span;
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One message about the configuration, pointing at a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub span: Span,
    pub message: String,
    /// Shown under the caret: what would be right.
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            span,
            message: message.into(),
            help: None,
        }
    }

    pub fn warning(span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            span,
            message: message.into(),
            help: None,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Sorts diagnostics by position (file, line, column), errors before warnings at the same
/// place; the sort is stable so messages at one position keep their order.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| {
        (a.span.file, a.span.line, a.span.col, a.severity).cmp(&(
            b.span.file,
            b.span.line,
            b.span.col,
            b.severity,
        ))
    });
}

/// Turns every warning into an error (`--strict`).
pub fn make_strict(diagnostics: &mut [Diagnostic]) {
    for d in diagnostics {
        d.severity = Severity::Error;
    }
}
