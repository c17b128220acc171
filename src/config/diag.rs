//! Diagnostics: what was wrong, where, and what would be right.

use super::source::Span;
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
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

/// Drops repeats of a diagnostic already given (same place, severity and message). A line
/// that parameter substitution copies many times points back at one source position, and
/// each copy would otherwise repeat the same error (the config fuzzer made 119,000 of them
/// from 663 bytes). The first of each stays, in order.
pub fn dedup(diagnostics: &mut Vec<Diagnostic>) {
    let mut seen = std::collections::HashSet::new();
    diagnostics.retain(|d| seen.insert((d.span, d.severity, d.message.clone())));
}

/// Turns every warning into an error (`--strict`).
pub fn make_strict(diagnostics: &mut [Diagnostic]) {
    for d in diagnostics {
        d.severity = Severity::Error;
    }
}

#[cfg(test)]
mod tests {
    use crate::config::parse_str;

    #[test]
    fn an_error_copied_by_substitution_is_reported_once() {
        // Both braces come from the one use on line 2, so both errors point at it.
        let text = "$P=} }\n$P\n";
        let (model, diags) = parse_str("t.conf", text);
        assert!(model.is_none());
        let messages: Vec<String> = diags
            .iter()
            .map(|d| format!("{}:{} {}", d.span.line, d.span.col, d.message))
            .collect();
        assert_eq!(messages, vec!["2:1 unexpected `}`"]);
    }

    #[test]
    fn a_runaway_parameter_gives_few_errors() {
        // The config fuzzer's slow input, shortened: a self-using multi-line parameter.
        let text = "$_= out\\\n}}} $_ $_\n$_\n$_ x\n";
        let (_, diags) = parse_str("t.conf", text);
        assert!(!diags.is_empty());
        assert!(diags.len() < 20, "{} diagnostics: {diags:#?}", diags.len());
    }
}
