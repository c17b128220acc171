//! Scenarios: hooks.
