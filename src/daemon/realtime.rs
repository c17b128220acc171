//! keepalived's process settings for the VRRP daemon, applied once at start:
//! `vrrp_priority` (nice value), `vrrp_rt_priority` (SCHED_RR real-time priority) and
//! `vrrp_no_swap` (lock all memory). Each is optional; when the kernel refuses one (no
//! `CAP_SYS_NICE` / `CAP_IPC_LOCK`, e.g. in a restricted container) the daemon says so
//! and runs without it. Done before the runtime starts, so every thread inherits it.
//! Like keepalived, a reload does not change them: they need a restart.
//!
//! The daemon's scheduling carries `SCHED_RESET_ON_FORK`: every hook, check and whatever
//! they start (e.g. a database) begins under `SCHED_OTHER` with nice 0, not at the
//! daemon's real-time or raised priority.

use tracing::{info, warn};

use crate::config::Global;
use crate::sys;

/// Apply the settings `global` asks for, logging what was applied and what was refused.
pub fn apply(global: &Global) {
    let mut applied = Vec::new();
    if let Some(nice) = global.nice {
        match sys::set_nice(nice) {
            Ok(()) => applied.push(format!("nice {nice}")),
            Err(e) => {
                warn!("vrrp_priority {nice}: cannot set the nice value ({e}); running without it")
            }
        }
    }
    if let Some(priority) = global.rt_priority {
        match sys::set_realtime(priority) {
            Ok(()) => applied.push(format!("SCHED_RR priority {priority}")),
            Err(e) => warn!(
                "vrrp_rt_priority {priority}: cannot switch to real-time scheduling ({e}; \
                 needs CAP_SYS_NICE); running with normal scheduling"
            ),
        }
    }
    if global.nice.is_some() || global.rt_priority.is_some() {
        // Hooks and what they start (a database...) run at normal priority.
        if let Err(e) = sys::reset_scheduling_on_fork() {
            warn!(
                "cannot set SCHED_RESET_ON_FORK ({e}); hooks may inherit the daemon's \
                 scheduling priority"
            );
        }
    }
    if global.no_swap {
        match sys::lock_memory() {
            Ok(()) => applied.push("memory locked".to_string()),
            Err(e) => warn!(
                "vrrp_no_swap: cannot lock memory ({e}; needs CAP_IPC_LOCK or a higher \
                 RLIMIT_MEMLOCK); running with swappable memory"
            ),
        }
    }
    if !applied.is_empty() {
        info!("process settings: {}", applied.join(", "));
    }
}
