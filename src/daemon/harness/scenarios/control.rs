//! Scenarios: control.
