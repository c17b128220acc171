//! Scenarios: faults.
