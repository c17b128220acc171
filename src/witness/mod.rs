//! The witness client (baton extension): one etcd lease per VRRP group, on a thread of its
//! own so the protocol loop never waits for the network.
//!
//! The protocol thread says, per instance, whether it wants the lease ([`Command::Want`],
//! from `Action::WantLease`) or not ([`Command::Drop`]); this thread takes the group's key
//! under a lease of its own, keeps the lease alive while wanted, gives it up when not, and
//! reports what the witness says ([`Report`], fed to the state machine as `Event::Lease`).
//!
//! Safety rests on one number, the deadline reported with `Lease::Held`: a renewal sent at
//! `t` makes etcd keep the lease until at least `t + TTL` on etcd's clock (the leader
//! resets the TTL when the request arrives, which is after `t`; a new leader only extends
//! leases). The holder may act as master until `t + TTL × (1 − MAX_RATE_SKEW) − GUARD`
//! on its own clock: before etcd can grant the lease to anybody else, even with clocks that
//! run at different rates, with room left for removing the addresses.

pub mod etcd;
pub mod tls;

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

use crate::config::model::Witness as WitnessConfig;
use crate::vrrp::Lease;

/// The largest difference in clock rate between this node and etcd's leader that the
/// deadline allows for (NTP keeps real clocks within 0.05 %).
pub const MAX_RATE_SKEW: f64 = 0.02;
/// Time left between this node's deadline and the earliest expiry on etcd, for the
/// protocol loop to notice and remove the addresses.
pub const GUARD: Duration = Duration::from_millis(200);
/// How often a node that wants the lease asks again while another node holds it.
pub const POLL: Duration = Duration::from_millis(50);
/// How soon a request that found no witness is retried.
pub const RETRY: Duration = Duration::from_millis(250);

/// What the witness thread needs of the `witness` block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub config: WitnessConfig,
    /// The holder name written in the keys.
    pub name: String,
}

impl Settings {
    pub fn new(config: &WitnessConfig, router_id: Option<&str>) -> Settings {
        let name = config
            .name
            .clone()
            .or_else(|| router_id.map(str::to_string))
            .unwrap_or_else(host_name);
        Settings {
            config: config.clone(),
            name,
        }
    }

    /// Building the client (reading the TLS files) can fail; the error names the file.
    fn client(&self) -> Result<etcd::Client, String> {
        let tls = match &self.config.ca_file {
            Some(ca) => Some(tls::Connector::from_files(
                ca,
                self.config.cert_file.as_deref(),
                self.config.key_file.as_deref(),
            )?),
            None if self
                .config
                .endpoints
                .iter()
                .any(|e| e.starts_with("https://")) =>
            {
                return Err("https endpoints need `ca_file`".into());
            }
            None => None,
        };
        Ok(etcd::Client::new(
            self.config.endpoints.clone(),
            Duration::from_millis(self.config.timeout_ms),
            tls,
        ))
    }
}

/// The deadline for a lease of `ttl` renewed (or granted) by a request sent at `sent`.
pub fn safe_until(sent: Instant, ttl: Duration) -> Instant {
    sent + safe_hold(ttl)
}

/// How long after sending a renewal (or a grant) its holder may act as master.
pub fn safe_hold(ttl: Duration) -> Duration {
    ttl.mul_f64(1.0 - MAX_RATE_SKEW).saturating_sub(GUARD)
}

fn host_name() -> String {
    nix_hostname().unwrap_or_else(|| "baton".to_string())
}

fn nix_hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// What the witness says of one instance's key, for the state machine and for status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub instance: String,
    /// The epoch of the [`Command::Want`] or [`Command::Drop`] it answers: a report sent
    /// before a later command (a renewal of a lease given up since) is stale.
    pub epoch: u64,
    pub lease: Lease,
    pub info: Info,
}

/// For `baton status`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Info {
    /// The endpoint that answered last.
    pub endpoint: Option<String>,
    /// The name written in the key (this node's own name when it holds the lease).
    pub holder: Option<String>,
    /// The last error, while the witness does not answer or refuses.
    pub error: Option<String>,
}

pub enum Command {
    /// Follow an instance's key (full path): read who holds it, take it when wanted.
    Follow {
        instance: String,
        key: String,
        epoch: u64,
    },
    Want(String, u64),
    /// Stop wanting the lease; `revoke`: give it up at once (else it expires).
    Drop {
        instance: String,
        epoch: u64,
        revoke: bool,
    },
    /// Stop following an instance (its lease, if any, is given up).
    Forget(String),
    /// New settings (a reload): the keys' tasks go on, leases kept, with the new client.
    Settings(Box<Settings>, etcd::Shared),
}

/// What every key's task reads at each step: a reload replaces it.
struct Shared {
    settings: Settings,
    client: etcd::Shared,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Not wanted: give the lease up (revoke it) and read who holds the key.
    Watch,
    /// Take the key and keep the lease alive.
    Want,
    /// Not wanted, but leave the lease to expire instead of revoking it: the addresses
    /// could not all be removed, so no other node may be granted it before its TTL.
    Abandon,
}

/// The handle the protocol thread keeps.
pub struct Witness {
    commands: mpsc::UnboundedSender<Command>,
    /// Signalled when the thread has given every lease up.
    done: Option<std::sync::mpsc::Receiver<()>>,
    pub settings: Settings,
}

pub type Reporter = Arc<dyn Fn(Report) + Send + Sync>;

impl Witness {
    /// Starts the thread. `origin` is the protocol thread's time origin (deadlines are
    /// reported as time since it).
    pub fn start(settings: Settings, origin: Instant, report: Reporter) -> Result<Witness, String> {
        let client: etcd::Shared = Arc::new(settings.client()?);
        let (commands, rx) = mpsc::unbounded_channel();
        let (done_tx, done) = std::sync::mpsc::channel();
        let thread_settings = settings.clone();
        std::thread::Builder::new()
            .name("baton-witness".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(r) => r,
                    Err(e) => {
                        warn!("witness: cannot start its runtime: {e}");
                        return;
                    }
                };
                let local = tokio::task::LocalSet::new();
                let thread = Thread {
                    shared: Rc::new(RefCell::new(Shared {
                        settings: thread_settings,
                        client,
                    })),
                    origin,
                    report,
                    keys: HashMap::new(),
                };
                local.block_on(&runtime, thread.run(rx));
                let _ = done_tx.send(());
            })
            .map_err(|e| format!("cannot start the witness thread: {e}"))?;
        info!(
            endpoints = settings.config.endpoints.join(" "),
            name = settings.name,
            "witness: following etcd"
        );
        Ok(Witness {
            commands,
            done: Some(done),
            settings,
        })
    }

    pub fn send(&self, command: Command) {
        let _ = self.commands.send(command);
    }

    /// Applies new settings without a restart: held leases are kept and renewed through
    /// the new client. Fails (nothing changed) if the new TLS files cannot be read.
    pub fn reconfigure(&mut self, settings: Settings) -> Result<(), String> {
        let client = Arc::new(settings.client()?);
        self.send(Command::Settings(Box::new(settings.clone()), client));
        self.settings = settings;
        Ok(())
    }

    /// Gives every lease up and ends the thread. Waits a bounded time: with the witness
    /// unreachable, the leases expire by themselves after their TTL. For the daemon's stop,
    /// once the protocol loop has ended.
    pub fn stop(mut self) {
        self.stop_thread();
    }

    /// Ends the thread without waiting for it (it gives the leases up on its own time).
    pub fn detach(mut self) {
        let (closed, _) = mpsc::unbounded_channel();
        drop(std::mem::replace(&mut self.commands, closed));
        self.done = None;
    }

    fn stop_thread(&mut self) {
        let (closed, _) = mpsc::unbounded_channel();
        drop(std::mem::replace(&mut self.commands, closed));
        let endpoints = self.settings.config.endpoints.len().max(1) as u32;
        let bound = (Duration::from_millis(self.settings.config.timeout_ms) * endpoints * 2)
            .max(Duration::from_secs(2));
        if let Some(done) = self.done.take()
            && done.recv_timeout(bound).is_err()
        {
            warn!(
                "witness: leases not all given up within {} ms; they expire by themselves",
                bound.as_millis()
            );
        }
    }
}

impl Drop for Witness {
    fn drop(&mut self) {
        self.stop_thread();
    }
}

struct Thread {
    shared: Rc<RefCell<Shared>>,
    origin: Instant,
    report: Reporter,
    keys: HashMap<String, Followed>,
}

/// A key's task: its mode (and the epoch of the command that set it), and its handle.
type Followed = (watch::Sender<(Mode, u64)>, tokio::task::JoinHandle<()>);

impl Thread {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Command>) {
        while let Some(command) = rx.recv().await {
            match command {
                Command::Follow {
                    instance,
                    key,
                    epoch,
                } => self.follow(instance, key, epoch),
                Command::Want(instance, epoch) => self.set(&instance, Mode::Want, epoch),
                Command::Drop {
                    instance,
                    epoch,
                    revoke,
                } => {
                    let mode = if revoke { Mode::Watch } else { Mode::Abandon };
                    self.set(&instance, mode, epoch);
                }
                Command::Settings(settings, client) => {
                    *self.shared.borrow_mut() = Shared {
                        settings: *settings,
                        client,
                    };
                }
                Command::Forget(instance) => {
                    if let Some((mode, task)) = self.keys.remove(&instance) {
                        drop(mode);
                        let _ = task.await;
                    }
                }
            }
        }
        // The daemon is stopping: every task gives its lease up, then the thread ends.
        let tasks: Vec<_> = self.keys.drain().map(|(_, (_, task))| task).collect();
        for task in tasks {
            let _ = task.await;
        }
    }

    fn follow(&mut self, instance: String, key: String, epoch: u64) {
        if let Some((mode, task)) = self.keys.remove(&instance) {
            drop(mode);
            task.abort();
        }
        let (mode, rx) = watch::channel((Mode::Watch, epoch));
        let task = KeyTask {
            instance: instance.clone(),
            key,
            shared: self.shared.clone(),
            origin: self.origin,
            report: self.report.clone(),
            held: None,
            spare: None,
            last: RefCell::new(None),
        };
        let handle = tokio::task::spawn_local(task.run(rx));
        self.keys.insert(instance, (mode, handle));
    }

    fn set(&mut self, instance: &str, wanted: Mode, epoch: u64) {
        if let Some((mode, _)) = self.keys.get(instance) {
            mode.send_replace((wanted, epoch));
        }
    }
}

/// A lease this node was granted: its id, its TTL, and when the grant was sent.
#[derive(Clone, Copy, Debug)]
struct Granted {
    id: i64,
    ttl: Duration,
    sent: Instant,
}

/// One instance's key.
struct KeyTask {
    instance: String,
    key: String,
    shared: Rc<RefCell<Shared>>,
    origin: Instant,
    report: Reporter,
    /// The lease under which this node holds the key.
    held: Option<Granted>,
    /// A lease granted for a take whose answer was lost: adopted if the key turns out to be
    /// under it, revoked otherwise; never used for another take.
    spare: Option<Granted>,
    last: RefCell<Option<(Lease, Info, u64)>>,
}

impl KeyTask {
    fn client(&self) -> etcd::Shared {
        self.shared.borrow().client.clone()
    }

    fn ttl_s(&self) -> u32 {
        self.shared.borrow().settings.config.lease_ttl_s
    }

    fn ttl(&self) -> Duration {
        Duration::from_secs(u64::from(self.ttl_s()))
    }

    fn name(&self) -> String {
        self.shared.borrow().settings.name.clone()
    }

    async fn run(mut self, mut mode: watch::Receiver<(Mode, u64)>) {
        loop {
            let (now_mode, epoch) = *mode.borrow_and_update();
            let wanted = now_mode == Mode::Want;
            if !wanted {
                self.give_up(now_mode == Mode::Watch).await;
            }
            let (lease, error, pause) = if wanted {
                self.want_step().await
            } else {
                self.watch_step().await
            };
            self.send(lease, error, epoch).await;
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                changed = mode.changed() => if changed.is_err() { break },
            }
        }
        self.give_up(true).await;
    }

    /// Not wanted (any more): revoke the lease so another node is granted it at once; or,
    /// with `revoke` false, forget it and let it expire.
    async fn give_up(&mut self, revoke: bool) {
        let leases = [self.held.take(), self.spare.take()];
        for lease in leases.into_iter().flatten() {
            if !revoke {
                warn!(
                    instance = self.instance,
                    "witness: lease left to expire in {} s (the addresses were not all removed)",
                    lease.ttl.as_secs()
                );
                continue;
            }
            match self.client().revoke(lease.id).await {
                Ok(()) => info!(
                    instance = self.instance,
                    key = self.key,
                    "witness: lease given up"
                ),
                Err(e) => warn!(
                    instance = self.instance,
                    "witness: cannot give the lease up ({e}); it expires in {} s",
                    lease.ttl.as_secs()
                ),
            }
        }
    }

    async fn watch_step(&mut self) -> (Lease, Option<String>, Duration) {
        let every = self.ttl() / 3;
        match self.client().holder(&self.key).await {
            Ok(Some(h)) => (Lease::HeldBy { holder: h.name }, None, every),
            Ok(None) => (Lease::Free, None, every),
            Err(e) => (
                Lease::Unreachable,
                Some(e.to_string()),
                every.min(RETRY * 4),
            ),
        }
    }

    async fn want_step(&mut self) -> (Lease, Option<String>, Duration) {
        if let Some(lease) = self.held {
            let sent = Instant::now();
            match self.client().keep_alive(lease.id).await {
                Ok(ttl) if ttl > 0 => {
                    // The deadline and the pace come from this lease's own TTL (a reload
                    // may have changed lease_ttl since it was granted).
                    let ttl = Duration::from_secs(ttl as u64).min(lease.ttl);
                    return (self.held_until(sent, ttl), None, lease.ttl / 3);
                }
                Ok(_) => {
                    warn!(instance = self.instance, "witness: the lease expired");
                    self.held = None;
                }
                Err(etcd::Error::Refused(m)) if m.contains("lease not found") => {
                    warn!(instance = self.instance, "witness: the lease is gone");
                    self.held = None;
                }
                Err(e) => return (Lease::Unreachable, Some(e.to_string()), RETRY),
            }
        }
        self.take().await
    }

    /// Ask for the key: read who holds it; if nobody, take it under a new lease.
    async fn take(&mut self) -> (Lease, Option<String>, Duration) {
        match self.client().holder(&self.key).await {
            Err(e) => return (Lease::Unreachable, Some(e.to_string()), RETRY),
            Ok(Some(h)) => {
                if let Some(spare) = self.spare
                    && h.lease == spare.id
                {
                    // Our own take, whose answer was lost: the deadline counts from that
                    // grant, which has not been renewed since. Renew it at once.
                    self.spare = None;
                    self.held = Some(spare);
                    return (self.held_until(spare.sent, spare.ttl), None, Duration::ZERO);
                }
                return (Lease::HeldBy { holder: h.name }, None, POLL);
            }
            Ok(None) => {}
        }
        // The key is free: a spare lease is of no use (it holds nothing).
        if let Some(spare) = self.spare.take() {
            let _ = self.client().revoke(spare.id).await;
        }
        let ttl_s = self.ttl_s();
        let ttl = Duration::from_secs(u64::from(ttl_s));
        let sent = Instant::now();
        let id = match self.client().grant(ttl_s).await {
            Ok(id) => id,
            Err(e) => return (Lease::Unreachable, Some(e.to_string()), RETRY),
        };
        let granted = Granted { id, ttl, sent };
        match self.client().acquire(&self.key, &self.name(), id).await {
            Ok(etcd::Acquire::Taken) => {
                info!(
                    instance = self.instance,
                    key = self.key,
                    "witness: lease taken"
                );
                self.held = Some(granted);
                (self.held_until(sent, ttl), None, ttl / 3)
            }
            Ok(etcd::Acquire::Held(h)) => {
                let _ = self.client().revoke(id).await;
                (Lease::HeldBy { holder: h.name }, None, POLL)
            }
            Err(e) => {
                // Taken or not, we cannot tell: keep it to adopt it if the key is under it.
                self.spare = Some(granted);
                (Lease::Unreachable, Some(e.to_string()), RETRY)
            }
        }
    }

    fn held_until(&self, sent: Instant, ttl: Duration) -> Lease {
        let until = safe_until(sent, ttl).saturating_duration_since(self.origin);
        Lease::Held { until }
    }

    /// Reports a change; a renewal (a new deadline) is always reported.
    async fn send(&self, lease: Lease, error: Option<String>, epoch: u64) {
        let holder = match &lease {
            Lease::Held { .. } => Some(self.name()),
            Lease::HeldBy { holder } => Some(holder.clone()),
            _ => None,
        };
        let endpoint = match lease {
            Lease::Unreachable => None,
            _ => Some(self.client().endpoint().await),
        };
        let info = Info {
            endpoint,
            holder,
            error,
        };
        let fresh = (lease.clone(), info.clone(), epoch);
        let mut last = self.last.borrow_mut();
        if last.as_ref() == Some(&fresh) && !matches!(lease, Lease::Held { .. }) {
            return;
        }
        if last.as_ref().map(|(l, _, _)| std::mem::discriminant(l))
            != Some(std::mem::discriminant(&lease))
        {
            log_change(&self.instance, &lease, &info);
        }
        *last = Some(fresh);
        (self.report)(Report {
            instance: self.instance.clone(),
            epoch,
            lease,
            info,
        });
    }
}

fn log_change(instance: &str, lease: &Lease, info: &Info) {
    match lease {
        Lease::Unreachable => warn!(
            instance,
            error = info.error.as_deref().unwrap_or(""),
            "witness: unreachable"
        ),
        Lease::HeldBy { holder } => info!(instance, holder, "witness: lease held by another node"),
        Lease::Held { .. } => info!(instance, "witness: lease held by this node"),
        Lease::Free => info!(instance, "witness: lease free"),
        Lease::Unknown => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_ends_before_etcd_can_expire_the_lease() {
        let sent = Instant::now();
        for ttl_s in [2u64, 3, 5, 60, 300] {
            let ttl = Duration::from_secs(ttl_s);
            let until = safe_until(sent, ttl);
            // etcd keeps the lease until at least sent + ttl on its clock; on a clock that
            // runs MAX_RATE_SKEW faster, that is sent + ttl × (1 − skew) here.
            let earliest_expiry_here = sent + ttl.mul_f64(1.0 - MAX_RATE_SKEW);
            assert!(until + GUARD <= earliest_expiry_here, "ttl {ttl_s}");
            assert!(
                until > sent + ttl / 2,
                "ttl {ttl_s}: most of the lease is usable"
            );
        }
    }
}
