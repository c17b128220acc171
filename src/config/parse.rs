//! Tokens to a tree of items: `keyword args... [{ items }]`.
//!
//! A block may open on the keyword's line or at the start of the next line; one-line blocks
//! (`track_script { chk }`) work, with one item per line inside them.

use super::diag::Diagnostic;
use super::expand::{Token, TokenKind};
use super::source::{Span, Spanned};

/// One configuration statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub keyword: Spanned<String>,
    pub args: Vec<Spanned<String>>,
    pub block: Option<Block>,
}

/// The `{ ... }` after a keyword.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    pub open: Span,
    pub items: Vec<Item>,
}

impl Item {
    /// The span of the whole first line (keyword and arguments).
    pub fn head_span(&self) -> Span {
        let mut span = self.keyword.span;
        if let Some(last) = self.args.last()
            && last.span.line == span.line
            && last.span.file == span.file
        {
            span.len = (last.span.col + last.span.len)
                .saturating_sub(span.col)
                .max(1);
        }
        span
    }

    pub fn items(&self) -> &[Item] {
        self.block.as_ref().map_or(&[], |b| b.items.as_slice())
    }
}

/// How deep blocks may nest; deeper content is reported and skipped.
const MAX_DEPTH: usize = 32;

struct Frame {
    header: Option<(Spanned<String>, Vec<Spanned<String>>)>,
    open: Span,
    items: Vec<Item>,
}

/// Builds the item tree. Errors: unexpected or missing braces, too deep nesting.
pub fn parse(tokens: &[Token], diagnostics: &mut Vec<Diagnostic>) -> Vec<Item> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut top: Vec<Item> = Vec::new();
    let mut skipped_depth = 0usize;
    let mut i = 0;
    while i < tokens.len() {
        let token = &tokens[i];
        i += 1;
        if skipped_depth > 0 {
            match token.kind {
                TokenKind::Open => skipped_depth += 1,
                TokenKind::Close => skipped_depth -= 1,
                _ => {}
            }
            continue;
        }
        match &token.kind {
            TokenKind::LineEnd => {}
            TokenKind::Close => match stack.pop() {
                Some(frame) => close_frame(frame, &mut stack, &mut top),
                None => diagnostics.push(
                    Diagnostic::error(token.span, "unexpected `}`")
                        .with_help("this closes no block"),
                ),
            },
            TokenKind::Open => {
                let items = current(&mut stack, &mut top);
                let header = match items.last() {
                    Some(last) if last.block.is_none() => {
                        items.pop().map(|item| (item.keyword, item.args))
                    }
                    _ => {
                        diagnostics.push(
                            Diagnostic::error(token.span, "unexpected `{`")
                                .with_help("a block must follow a keyword"),
                        );
                        None
                    }
                };
                open_frame(
                    header,
                    token.span,
                    &mut stack,
                    &mut skipped_depth,
                    diagnostics,
                );
            }
            TokenKind::Word(word) => {
                let keyword = Spanned::new(word.clone(), token.span);
                let mut args = Vec::new();
                while let Some(Token {
                    kind: TokenKind::Word(arg),
                    span,
                }) = tokens.get(i)
                {
                    args.push(Spanned::new(arg.clone(), *span));
                    i += 1;
                }
                if let Some(Token {
                    kind: TokenKind::Open,
                    span,
                }) = tokens.get(i)
                {
                    i += 1;
                    let header = Some((keyword, args));
                    open_frame(header, *span, &mut stack, &mut skipped_depth, diagnostics);
                } else {
                    current(&mut stack, &mut top).push(Item {
                        keyword,
                        args,
                        block: None,
                    });
                }
            }
        }
    }
    while let Some(frame) = stack.pop() {
        diagnostics.push(
            Diagnostic::error(frame.open, "this block is never closed")
                .with_help("add a matching `}`"),
        );
        close_frame(frame, &mut stack, &mut top);
    }
    top
}

fn current<'a>(stack: &'a mut [Frame], top: &'a mut Vec<Item>) -> &'a mut Vec<Item> {
    match stack.last_mut() {
        Some(frame) => &mut frame.items,
        None => top,
    }
}

fn open_frame(
    header: Option<(Spanned<String>, Vec<Spanned<String>>)>,
    open: Span,
    stack: &mut Vec<Frame>,
    skipped_depth: &mut usize,
    diagnostics: &mut Vec<Diagnostic>,
) {
    if stack.len() >= MAX_DEPTH {
        diagnostics.push(
            Diagnostic::error(open, "blocks are nested too deeply")
                .with_help(format!("at most {MAX_DEPTH} levels are allowed")),
        );
        *skipped_depth = 1;
        return;
    }
    stack.push(Frame {
        header,
        open,
        items: Vec::new(),
    });
}

fn close_frame(frame: Frame, stack: &mut [Frame], top: &mut Vec<Item>) {
    let Some((keyword, args)) = frame.header else {
        return;
    };
    let item = Item {
        keyword,
        args,
        block: Some(Block {
            open: frame.open,
            items: frame.items,
        }),
    };
    current(stack, top).push(item);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::expand::{NoFiles, Options, expand};
    use crate::config::source::Sources;

    fn tree(text: &str) -> (Vec<Item>, Vec<Diagnostic>) {
        let mut sources = Sources::new();
        let out = expand(
            &mut sources,
            &NoFiles,
            &Options::default(),
            "t",
            text.into(),
        );
        let mut diags = out.diagnostics;
        let items = parse(&out.tokens, &mut diags);
        (items, diags)
    }

    fn shape(items: &[Item]) -> String {
        let mut s = String::new();
        for item in items {
            s.push_str(&item.keyword.value);
            for a in &item.args {
                s.push(' ');
                s.push_str(&a.value);
            }
            if let Some(b) = &item.block {
                s.push_str(" {");
                s.push_str(&shape(&b.items));
                s.push('}');
            }
            s.push(';');
        }
        s
    }

    #[test]
    fn braces_same_line_next_line_and_one_line() {
        let (items, diags) = tree(
            "vrrp_instance A\n{\n  state MASTER\n  track_script { chk }\n  vips {\n 1\n 2 }\n}\nx",
        );
        assert!(diags.is_empty());
        assert_eq!(
            shape(&items),
            "vrrp_instance A {state MASTER;track_script {chk;};vips {1;2;};};x;"
        );
    }

    #[test]
    fn unbalanced_braces_are_errors() {
        let (items, diags) = tree("a {\n b\n");
        assert_eq!(shape(&items), "a {b;};");
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].message, "this block is never closed");
        let (_, diags) = tree("}\n{\n}");
        assert_eq!(diags.len(), 2);
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let text = "a {".repeat(10_000);
        let (items, diags) = tree(&text);
        assert_eq!(items.len(), 1);
        assert!(diags.iter().any(|d| d.message.contains("too deeply")));
    }
}
