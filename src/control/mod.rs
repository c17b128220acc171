//! The control socket: a versioned JSON-lines protocol between `baton run` and the CLI
//! (`status`, `fallback`, `resign`, `lock`, `unlock`, `reconfigure`), the server half that
//! runs inside the daemon, the client half used by the CLI, and the status model.

pub mod client;
pub mod metrics;
pub mod pair;
pub mod protocol;
pub mod redact;
pub mod server;
pub mod status;

/// Where the daemon listens by default.
pub const DEFAULT_SOCKET: &str = "/run/baton/baton.sock";
/// Where state that must survive a restart (locks) is kept by default.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/baton";
