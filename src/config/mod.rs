//! The keepalived configuration language: lexing, parsing, validation into a typed model.
//!
//! Layers, each usable alone:
//! - [`lex`] (nom): one logical line to words (double quotes, escapes) and braces;
//! - [`expand`]: files to tokens — comments (`#`, `!` outside double quotes), line
//!   continuation (`\`), conditional lines (`@id`, `@^id`), parameters (`$NAME=value`,
//!   `$NAME`, `${NAME}`, multi-line definitions), and `include` with globs relative to the
//!   including file. Every token keeps its file, line and column;
//! - [`parse`]: tokens to a tree of [`parse::Item`]s (braces on the same or the next line);
//! - [`validate`]: the tree to a [`Model`], reporting every problem as a [`Diagnostic`];
//! - [`render`]: diagnostics as rustc-style text; [`diff`]: [`Model::diff`] for reloads.
//!
//! # baton extensions (in `vrrp_instance`)
//!
//! - `fallback manual|automatic`: whether a recovered higher-priority node takes the VIP
//!   back by itself (`automatic`, keepalived's default `preempt`) or only when the operator
//!   runs `baton fallback` (`manual`, keepalived's `nopreempt`). `fallback automatic` with
//!   `nopreempt` (or `manual` with `preempt`) is an error.
//! - `fallback_check SCRIPT`: a command that must exit 0 before `baton fallback` or an
//!   automatic preemption takes the VIP (e.g. "the database has caught up");
//!   `fallback_check_timeout SECONDS` (default 10) bounds it.
//! - `flap_hold_down SECONDS`: after becoming BACKUP or FAULT, do not become MASTER by
//!   preemption again for this long (default 0 = off).
//!
//! # What is read but not acted on, and what is refused
//!
//! keepalived keywords that are harmless to ignore (LVS, checkers, SMTP, SNMP, process
//! tuning, ...) produce a warning naming them; blocks such as `virtual_server` are skipped
//! whole with one warning. Keywords whose absence of effect would change who hears whom,
//! who wins or what goes on the wire (`auth_type AH`, `use_vmac_addr`,
//! `virtual_routes`, `track_process`, ...: [`validate::keywords`]) are errors. Unknown
//! keywords are errors too, unless `global_defs` says `baton_unknown_keywords warning`.
//! `~SEQ`/`~LST` lines are reported and skipped. Includes are bounded: no cycles (by
//! canonical path), at most [`expand::MAX_CONFIG_FILES`] files and
//! [`expand::MAX_CONFIG_BYTES`] bytes.

pub mod diag;
pub mod diff;
pub mod expand;
pub mod lex;
pub mod model;
pub mod parse;
pub mod render;
pub mod report;
pub mod source;
pub mod validate;

pub use diag::{Diagnostic, Severity};
pub use diff::{Change, Diff};
pub use expand::{Files, NoFiles, Options, RealFiles};
pub use model::*;
pub use source::{FileId, Sources, Span, Spanned};

use std::path::{Path, PathBuf};

/// A configuration as loaded: the files read, the model if it is valid, and diagnostics
/// sorted by position.
#[derive(Debug)]
pub struct Loaded {
    pub sources: Sources,
    /// `None` when there is at least one error.
    pub model: Option<Model>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Loaded {
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| !d.is_error())
    }

    pub fn is_valid(&self) -> bool {
        self.model.is_some()
    }

    /// Turns warnings into errors (`--strict`); the model is dropped if there were any.
    pub fn make_strict(&mut self) {
        if self.warnings().next().is_some() {
            diag::make_strict(&mut self.diagnostics);
            self.model = None;
        }
    }

    /// All diagnostics rendered, separated by blank lines.
    pub fn render(&self) -> String {
        render::render_all(&self.diagnostics, &self.sources)
    }
}

/// The main file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Loads a configuration file and everything it includes.
pub fn load(path: &Path) -> Result<Loaded, LoadError> {
    load_with(path, &Options::default())
}

/// [`load`] with options (e.g. the config id for `@id` lines).
pub fn load_with(path: &Path, options: &Options) -> Result<Loaded, LoadError> {
    let text = RealFiles.read(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(parse_text(
        &path.display().to_string(),
        text,
        options,
        &RealFiles,
    ))
}

/// Parses text that names itself `name`, with `files` for includes.
pub fn parse_text(name: &str, text: String, options: &Options, files: &dyn Files) -> Loaded {
    let mut sources = Sources::new();
    let expanded = expand::expand(&mut sources, files, options, name, text);
    let mut diagnostics = expanded.diagnostics;
    let items = parse::parse(&expanded.tokens, &mut diagnostics);
    let had_errors = diagnostics.iter().any(Diagnostic::is_error);
    let (model, more) = validate::build(&items);
    diagnostics.extend(more);
    diag::dedup(&mut diagnostics);
    diag::sort(&mut diagnostics);
    Loaded {
        sources,
        model: if had_errors { None } else { model },
        diagnostics,
    }
}

/// Parses text without touching the filesystem (`include` lines are reported and skipped);
/// for tests and fuzzing. Never panics.
pub fn parse_str(name: &str, text: &str) -> (Option<Model>, Vec<Diagnostic>) {
    let loaded = parse_text(name, text.to_string(), &Options::default(), &NoFiles);
    (loaded.model, loaded.diagnostics)
}
