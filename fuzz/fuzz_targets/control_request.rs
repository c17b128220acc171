//! The control-socket request parser on arbitrary bytes: never panics, every refusal is a
//! one-line-safe message, and every accepted request survives serialise -> parse.
#![no_main]

use baton::control::protocol::{Reply, parse_request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match parse_request(data) {
        Ok(request) => {
            let line = serde_json::to_string(&request).expect("a request serialises");
            assert_eq!(parse_request(line.as_bytes()), Ok(request));
        }
        Err(message) => {
            assert!(!message.is_empty());
            assert_eq!(Reply::error(message).to_line().matches('\n').count(), 1);
        }
    }
});
