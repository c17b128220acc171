//! The configuration language on arbitrary text: lexing, parameters, conditionals, blocks,
//! validation and diagnostics rendering never panic; a valid model has no error and an
//! empty diff against itself (a reload of the same file changes nothing).
#![no_main]

use baton::config::{self, Model, NoFiles, Options};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let loaded = config::parse_text("fuzz.conf", text.to_string(), &Options::default(), &NoFiles);
    let _ = loaded.render();
    if let Some(model) = &loaded.model {
        assert!(loaded.errors().next().is_none());
        let diff = Model::diff(model, model);
        assert!(diff.is_empty(), "a model differs from itself: {diff:?}");
    }
});
