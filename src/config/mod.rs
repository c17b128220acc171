//! The keepalived configuration language: lexing, parsing, validation into a typed model.
