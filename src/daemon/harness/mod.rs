//! The in-process harness: whole daemons (the real [`serve_on`], event loop, routers, sync
//! groups, tracking, hooks, reloads, control requests) on one thread, with the machine
//! faked behind [`super::host::Host`] (`fake.rs`): a LAN that carries adverts between
//! nodes, address tables, recorded processes and GARPs, and tokio's paused clock, which
//! jumps to the next timer whenever every daemon waits. No root, no namespaces, no real
//! time: a minute of protocol runs in milliseconds, the same way every time.
//!
//! What only a kernel shows (raw sockets, rtnetlink, macvlans, routes, nftables, real
//! processes, interop with keepalived and FRR) stays in the namespace tests.
//!
//! A test is `harness::run(|mut lab| async move { ... })`: make nodes with interfaces on
//! segments, start a daemon on each with a config text, let time pass, act (pull a link,
//! cut two nodes apart, crash or stop a daemon, rewrite and reload a config, send a control
//! command, make a script fail or hang) and assert what a user would see: who holds the
//! VIP, `baton status`, the hooks that ran and their arguments, the frames sent.

pub mod fake;
mod scenarios;

use std::future::Future;
use std::net::IpAddr;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use futures::channel::mpsc as stream_mpsc;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::{DaemonError, Inputs, Options, Signal, runner::Runner, serve_on};
use crate::control::protocol::{Command, Reply};
use crate::control::server::{ControlRequest, Peer};
use crate::control::status::{DaemonStatus, InstanceStatus, VrrpState};
pub use fake::{Answer, Lan, Launcher, NodeId, Run};

/// Run `body` with a fresh lab on a current-thread runtime whose clock is paused.
pub fn run<F, Fut>(body: F)
where
    F: FnOnce(Lab) -> Fut,
    Fut: Future<Output = ()>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime");
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move { body(Lab::new()).await });
    // The daemons' deadline index stayed exact throughout (see `deadlines.rs`).
    if let Some(mismatch) = crate::daemon::deadlines::take_mismatch() {
        panic!("a daemon's deadline index fell out of date: {mismatch}");
    }
}

/// The daemons, their LAN and their processes.
pub struct Lab {
    pub lan: Rc<Lan>,
    pub launcher: Launcher,
    dir: tempfile::TempDir,
    nodes: Vec<NodeRun>,
}

struct NodeRun {
    name: String,
    config: PathBuf,
    running: Option<Running>,
}

struct Running {
    control: mpsc::Sender<ControlRequest>,
    signals: stream_mpsc::UnboundedSender<Signal>,
    task: JoinHandle<Result<(), DaemonError>>,
    /// The control socket's server (the real one, on a socket in the node's directory).
    _server: Server,
    socket: PathBuf,
}

/// The control socket's server task, ended with its daemon.
struct Server(JoinHandle<()>);

impl Drop for Server {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Lab {
    fn new() -> Lab {
        let lan = Lan::new();
        Lab {
            launcher: Launcher::new(tokio::time::Instant::now()),
            lan,
            dir: tempfile::tempdir().expect("temporary directory"),
            nodes: Vec::new(),
        }
    }

    /// A node named `name` with one interface `eth0` on segment `lan` with `address`
    /// ("192.0.2.1/24").
    pub fn node(&mut self, name: &str, address: &str) -> NodeId {
        self.node_with(name, &[("eth0", "lan", &[address])])
    }

    /// A node with interfaces (name, segment, addresses).
    pub fn node_with(&mut self, name: &str, ifaces: &[(&str, &str, &[&str])]) -> NodeId {
        let id = self.lan.add_node(ifaces);
        let dir = self.dir.path().join(name);
        std::fs::create_dir_all(dir.join("state")).expect("node directory");
        self.nodes.push(NodeRun {
            name: name.to_string(),
            config: dir.join("baton.conf"),
            running: None,
        });
        id
    }

    pub fn name(&self, id: NodeId) -> &str {
        &self.nodes[id].name
    }

    fn dir(&self, id: NodeId) -> PathBuf {
        self.dir.path().join(&self.nodes[id].name)
    }

    /// Write node `id`'s config file (read at the next start or reload).
    pub fn write_config(&self, id: NodeId, text: &str) {
        std::fs::write(&self.nodes[id].config, text).expect("config file");
    }

    /// Start node `id`'s daemon with `config` (which must be valid) and let it come up.
    pub async fn start(&mut self, id: NodeId, config: &str) {
        self.write_config(id, config);
        self.start_again(id).await;
    }

    /// Start node `id`'s daemon again with the config file as it is.
    pub async fn start_again(&mut self, id: NodeId) {
        assert!(self.nodes[id].running.is_none(), "already running");
        let options = Options {
            config: self.nodes[id].config.clone(),
            config_id: Some(self.nodes[id].name.clone()),
            socket: self.dir(id).join("baton.sock"),
            state_dir: self.dir(id).join("state"),
        };
        let model = super::load_model(&options).unwrap_or_else(|e| panic!("{e}"));
        let host = self
            .lan
            .host(id, self.launcher.for_node(&self.nodes[id].name));
        let runner = Runner::inline(super::host::Host::launcher(&*host));
        let (control_tx, control) = mpsc::channel(16);
        // The real server on a real socket (not `server::bind`: that gives the socket to a
        // `baton` group if the machine has one, which only root may do).
        let socket = options.socket.clone();
        let _ = std::fs::remove_file(&socket);
        let listener = tokio::net::UnixListener::bind(&socket).expect("control socket");
        let server =
            tokio::task::spawn_local(crate::control::server::serve(listener, control_tx.clone()));
        let (signals, stop) = stream_mpsc::unbounded();
        let inputs = Inputs {
            control,
            control_tx: control_tx.clone(),
            stop: Box::pin(stop),
        };
        let task = tokio::task::spawn_local(serve_on(host, runner, options, model, inputs));
        self.nodes[id].running = Some(Running {
            control: control_tx,
            signals,
            task,
            _server: Server(server),
            socket,
        });
        // Let it read its links and open its sockets.
        self.wait(Duration::from_millis(1)).await;
    }

    /// Let `d` of (virtual) time pass.
    pub async fn wait(&self, d: Duration) {
        tokio::time::sleep(d).await;
    }

    /// Let `seconds` pass.
    pub async fn secs(&self, seconds: f64) {
        self.wait(Duration::from_secs_f64(seconds)).await;
    }

    fn running(&self, id: NodeId) -> &Running {
        self.nodes[id]
            .running
            .as_ref()
            .unwrap_or_else(|| panic!("{} is not running", self.nodes[id].name))
    }

    pub fn is_running(&self, id: NodeId) -> bool {
        self.nodes[id]
            .running
            .as_ref()
            .is_some_and(|r| !r.task.is_finished())
    }

    /// Send a control command to node `id`, as root would, and wait for the reply.
    pub async fn command(&self, id: NodeId, command: Command) -> Reply {
        self.command_impatient(id, command, Duration::from_secs(120))
            .await
            .expect("a reply in time")
    }

    /// Send a control command to node `id` over its control socket, as `baton` does (the
    /// client on a blocking thread, the daemon's server and JSON lines between). Only for
    /// commands answered without time passing: the clock does not move while a blocking
    /// thread runs.
    pub async fn over_socket(&self, id: NodeId, command: Command) -> Reply {
        let socket = self.running(id).socket.clone();
        tokio::task::spawn_blocking(move || {
            crate::control::client::request(&socket, command, Duration::from_secs(10))
        })
        .await
        .expect("the client thread")
        .expect("a reply over the socket")
    }

    /// `baton status --json` of node `id`.
    pub async fn status(&self, id: NodeId) -> DaemonStatus {
        let reply = self.command(id, Command::Status { instance: None }).await;
        assert!(reply.ok, "status failed: {:?}", reply.error);
        serde_json::from_value(reply.result.expect("a status")).expect("status JSON")
    }

    /// Instance `name` in node `id`'s status.
    pub async fn instance(&self, id: NodeId, name: &str) -> InstanceStatus {
        self.status(id)
            .await
            .instances
            .into_iter()
            .find(|i| i.name == name)
            .unwrap_or_else(|| panic!("{} has no instance {name}", self.name(id)))
    }

    /// Instance `name`'s state on node `id`.
    pub async fn state(&self, id: NodeId, name: &str) -> VrrpState {
        self.instance(id, name).await.state
    }

    /// Reload node `id` (`baton reconfigure`) and return the reply.
    pub async fn reload(&self, id: NodeId) -> Reply {
        self.command(id, Command::Reconfigure).await
    }

    /// Send node `id` a SIGHUP.
    pub fn hangup(&self, id: NodeId) {
        let _ = self.running(id).signals.unbounded_send(Signal::Reload);
    }

    /// Stop node `id`'s daemon as SIGTERM does and wait until it has stopped.
    pub async fn stop(&mut self, id: NodeId) -> Result<(), String> {
        let running = self.nodes[id].running.take().expect("running");
        let _ = running.signals.unbounded_send(Signal::Stop("SIGTERM"));
        tokio::time::timeout(Duration::from_secs(600), running.task)
            .await
            .expect("stopped in time")
            .expect("not panicked")
            .map_err(|e| e.to_string())
    }

    /// Kill node `id`'s daemon (no cleanup: its VIPs stay on its interfaces).
    pub fn crash(&mut self, id: NodeId) {
        if let Some(running) = self.nodes[id].running.take() {
            running.task.abort();
        }
        self.lan.crash(id);
    }

    /// How node `id`'s daemon ended, once it has (a start that failed, say).
    pub async fn ended(&mut self, id: NodeId) -> Result<(), String> {
        let running = self.nodes[id].running.take().expect("started");
        tokio::time::timeout(Duration::from_secs(600), running.task)
            .await
            .expect("ended in time")
            .expect("not panicked")
            .map_err(|e| e.to_string())
    }

    /// The names of the nodes holding `addr`.
    pub fn holders(&self, addr: &str) -> Vec<String> {
        let addr: IpAddr = addr.parse().expect("address");
        self.lan
            .holders(addr)
            .into_iter()
            .map(|id| self.nodes[id].name.clone())
            .collect()
    }

    /// Let `d` pass in steps of `step`, checking at each that at most one node holds
    /// `addr`; the holders seen, in order, without repeats.
    pub async fn watch(&self, addr: &str, d: Duration, step: Duration) -> Vec<Vec<String>> {
        let mut seen: Vec<Vec<String>> = Vec::new();
        let steps = (d.as_nanos() / step.as_nanos().max(1)).max(1);
        for _ in 0..steps {
            self.wait(step).await;
            let holders = self.holders(addr);
            assert!(
                holders.len() <= 1,
                "two masters: {holders:?} hold {addr} at {:?}",
                self.lan.elapsed()
            );
            if seen.last() != Some(&holders) {
                seen.push(holders);
            }
        }
        seen
    }

    /// The adverts node `id` sent (whether or not anyone heard them).
    pub fn adverts(&self, id: NodeId) -> Vec<fake::Sent> {
        self.lan
            .sent()
            .into_iter()
            .filter(|s| s.node == id)
            .collect()
    }

    /// The GARP/NA and probe frames node `id` sent.
    pub fn frames(&self, id: NodeId) -> Vec<fake::Frame> {
        self.lan
            .frames()
            .into_iter()
            .filter(|f| f.node == id)
            .collect()
    }

    /// Every process started so far, by every node.
    pub fn runs(&self) -> Vec<Run> {
        self.launcher.runs()
    }

    /// The command lines node `id` ran that contain `text`.
    pub fn ran(&self, id: NodeId, text: &str) -> Vec<String> {
        self.runs()
            .into_iter()
            .filter(|r| r.node == self.nodes[id].name && r.line.contains(text))
            .map(|r| r.line)
            .collect()
    }

    /// Commands containing `text` exit with `exit` after `takes`, from now on.
    pub fn answer(&self, text: &str, exit: i32, takes: Duration) {
        self.launcher.answer(text, Answer { exit, takes });
    }

    /// The path of node `id`'s config file (to remove it, or put something unreadable there).
    pub fn config_path(&self, id: NodeId) -> PathBuf {
        self.nodes[id].config.clone()
    }

    /// Send a control command to node `id` as a client that gives up after `patience`:
    /// its reply, if it came in time; otherwise `None`, and the request's reply channel is
    /// dropped (as when `baton` times out or is interrupted).
    pub async fn command_impatient(
        &self,
        id: NodeId,
        command: Command,
        patience: Duration,
    ) -> Option<Reply> {
        let (reply, answer) = oneshot::channel();
        let request = ControlRequest {
            command,
            peer: Some(Peer { uid: 0, pid: None }),
            reply,
        };
        self.running(id)
            .control
            .send(request)
            .await
            .expect("the daemon takes requests");
        tokio::time::timeout(patience, answer)
            .await
            .ok()
            .and_then(Result::ok)
    }
}
