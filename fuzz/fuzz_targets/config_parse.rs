//! cargo-fuzz target; the checks are in `fuzz/checks.rs` (see `checks::config_parse`).
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::config_parse(data));
