//! The sans-IO VRRP state machine (RFC 5798 section 6, RFC 3768 section 6).
//!
//! Nothing here reads a clock, sleeps or touches a socket: the caller passes `now` and an
//! [`Event`], carries out the returned [`Action`]s and calls back with [`Event::Timeout`] at
//! [`Instance::next_deadline`].

pub mod auth_hmac;
mod event;
mod instance;
pub mod peers;
pub mod receive;
pub mod timers;

pub use event::{
    Action, Advert, Event, Lease, Reason, Refusal, State, WhenUnreachable, WitnessRule,
};
pub use instance::{Config, Heard, Instance, OWNER_PRIORITY, STOP_PRIORITY, Stats};
