//! cargo-fuzz target; the checks are in `fuzz/checks.rs` (see `checks::vrrp_decode`).
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::vrrp_decode(data));
