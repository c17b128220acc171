//! Scenarios: reload.
