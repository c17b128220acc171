//! Scenarios: tracking.
