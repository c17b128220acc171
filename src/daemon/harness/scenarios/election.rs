//! Scenarios: election.
