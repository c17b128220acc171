//! The daemon's half of the control socket: accept connections (at most [`MAX_CLIENTS`] at
//! once), read one request line each (bounded in size and time), hand it to the event loop
//! with the client's uid and pid, write its reply (bounded in time).

use std::cell::Cell;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use super::protocol::{Command, MAX_REQUEST, Reply, parse_request};

/// A request for the event loop, with who sent it and where to send its reply.
pub struct ControlRequest {
    pub command: Command,
    /// The client process, as the kernel reports it (SO_PEERCRED).
    pub peer: Option<Peer>,
    pub reply: oneshot::Sender<Reply>,
}

/// Who is on the other end of a control connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peer {
    pub uid: u32,
    pub pid: Option<i32>,
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.pid {
            Some(pid) => write!(f, "uid {} pid {pid}", self.uid),
            None => write!(f, "uid {}", self.uid),
        }
    }
}

/// The most control clients served at once. The next one gets a one-line "busy" error and
/// is closed at once, so idle or stuck clients cannot use up the daemon's file descriptors
/// (which its track scripts and hooks need).
pub const MAX_CLIENTS: usize = 32;
/// How long a client may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a client may take to read its reply; then the connection is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the event loop may take to answer (a fallback runs its check first).
const REPLY_TIMEOUT: Duration = Duration::from_secs(120);
/// The group allowed to use the socket, if it exists.
const GROUP: &str = "baton";

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("another baton daemon is already listening on {0}")]
    AlreadyRunning(String),
    #[error("control socket {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Listen on `path` (mode 0660, group `baton` if it exists). A stale socket file left by a
/// crashed daemon is replaced; a live one is an error.
pub fn bind(path: &Path) -> Result<UnixListener, ServerError> {
    let io = |source| ServerError::Io {
        path: path.display().to_string(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(ServerError::AlreadyRunning(path.display().to_string()));
        }
        std::fs::remove_file(path).map_err(io)?;
    }
    let listener = UnixListener::bind(path).map_err(io)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(io)?;
    if let Some(gid) = crate::sys::group_id(GROUP) {
        std::os::unix::fs::chown(path, None, Some(gid)).map_err(io)?;
    }
    Ok(listener)
}

/// The reply a client gets when [`MAX_CLIENTS`] are connected already.
pub fn busy_reply() -> Reply {
    Reply::error(format!(
        "busy: {MAX_CLIENTS} control clients are connected already; try again in a few seconds"
    ))
}

/// Counts the connections being served; a slot is given back when its task ends.
struct Slot(Rc<Cell<usize>>);

impl Slot {
    fn take(active: &Rc<Cell<usize>>) -> Option<Slot> {
        if active.get() >= MAX_CLIENTS {
            return None;
        }
        active.set(active.get() + 1);
        Some(Slot(active.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.set(self.0.get().saturating_sub(1));
    }
}

/// Accept connections until the event loop goes away, at most [`MAX_CLIENTS`] at a time.
pub async fn serve(listener: UnixListener, requests: mpsc::Sender<ControlRequest>) {
    let active = Rc::new(Cell::new(0));
    // Clients refused in the current busy spell (logged when it starts and when it ends).
    let mut refused: u64 = 0;
    loop {
        match listener.accept().await {
            Ok((stream, _)) => match Slot::take(&active) {
                Some(slot) => {
                    if refused > 0 {
                        info!(
                            "control socket: serving again; {refused} client(s) were refused while busy"
                        );
                        refused = 0;
                    }
                    let requests = requests.clone();
                    tokio::task::spawn_local(async move {
                        connection(stream, requests).await;
                        drop(slot);
                    });
                }
                None => {
                    if refused == 0 {
                        warn!(
                            "control socket: {MAX_CLIENTS} clients connected already; refusing new ones with \"busy\" until one leaves"
                        );
                    }
                    refused += 1;
                    // Never wait for this client: what fits in the socket buffer is sent.
                    let _ = stream.try_write(busy_reply().to_line().as_bytes());
                }
            },
            Err(e) => {
                warn!("control socket: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        if requests.is_closed() {
            return;
        }
    }
}

async fn connection(stream: UnixStream, requests: mpsc::Sender<ControlRequest>) {
    let peer = stream.peer_cred().ok().map(|c| Peer {
        uid: c.uid(),
        pid: c.pid(),
    });
    let (read, mut write) = stream.into_split();
    let reply = match read_request(read).await {
        Ok(command) => ask(command, peer, &requests).await,
        Err(message) => Reply::error(message),
    };
    // A full status of hundreds of instances is a few hundred KiB of JSON: render it on a
    // blocking thread, not on the thread that sends adverts.
    let line = match tokio::task::spawn_blocking(move || reply.to_line()).await {
        Ok(line) => line,
        Err(e) => Reply::error(format!("cannot render the reply: {e}")).to_line(),
    };
    match tokio::time::timeout(WRITE_TIMEOUT, write.write_all(line.as_bytes())).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => debug!("control socket: client left before the reply: {e}"),
        Err(_) => debug!(
            "control socket: client did not read its reply within {} s; dropped",
            WRITE_TIMEOUT.as_secs()
        ),
    }
}

/// One line, at most MAX_REQUEST bytes, within READ_TIMEOUT.
async fn read_request(read: tokio::net::unix::OwnedReadHalf) -> Result<Command, String> {
    let mut line = Vec::new();
    let limit = (MAX_REQUEST + 1) as u64;
    let mut reader = BufReader::new(read.take(limit));
    match tokio::time::timeout(READ_TIMEOUT, reader.read_until(b'\n', &mut line)).await {
        Err(_) => return Err("no request within 5 s".into()),
        Ok(Err(e)) => return Err(format!("cannot read the request: {e}")),
        Ok(Ok(_)) => {}
    }
    parse_request(&line).map(|request| request.command)
}

async fn ask(
    command: Command,
    peer: Option<Peer>,
    requests: &mpsc::Sender<ControlRequest>,
) -> Reply {
    let (reply, answer) = oneshot::channel();
    if requests
        .send(ControlRequest {
            command,
            peer,
            reply,
        })
        .await
        .is_err()
    {
        return Reply::error("the daemon is shutting down");
    }
    match tokio::time::timeout(REPLY_TIMEOUT, answer).await {
        Ok(Ok(reply)) => reply,
        Ok(Err(_)) => Reply::error("the daemon dropped the request"),
        Err(_) => Reply::error("the daemon did not answer in time"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncBufReadExt;

    const STATUS: &[u8] = b"{\"version\":1,\"command\":\"status\"}\n";

    async fn ask_status(path: &Path) -> std::io::Result<UnixStream> {
        let mut stream = UnixStream::connect(path).await?;
        stream.write_all(STATUS).await?;
        Ok(stream)
    }

    async fn read_reply(stream: UnixStream) -> Reply {
        let mut line = String::new();
        let mut reader = tokio::io::BufReader::new(stream);
        let _ = reader.read_line(&mut line).await;
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:.100}"))
    }

    fn is_busy(reply: &Reply) -> bool {
        *reply == busy_reply()
    }

    /// Clients that ask for a large status and never read it hold their slot only until
    /// the write times out; meanwhile the next client is told "busy", at once.
    #[test]
    fn clients_that_never_read_are_dropped_and_the_rest_wait_their_turn() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("baton.sock");
        tokio::task::LocalSet::new().block_on(&runtime, async {
            let listener = bind(&path).unwrap();
            let (requests, mut queue) = mpsc::channel::<ControlRequest>(16);
            tokio::task::spawn_local(serve(listener, requests));
            // The event loop: every status is 1 MB, far more than a socket buffer holds.
            const BIG: usize = 1 << 20;
            let big = serde_json::Value::String("x".repeat(BIG));
            tokio::task::spawn_local(async move {
                while let Some(request) = queue.recv().await {
                    assert_eq!(request.peer.map(|p| p.pid.is_some()), Some(true));
                    let _ = request.reply.send(Reply::ok(big.clone()));
                }
            });
            let mut stuck = Vec::new();
            for _ in 0..MAX_CLIENTS {
                stuck.push(UnixStream::connect(&path).await.unwrap());
            }
            // Let the server take them all in.
            for _ in 0..100 {
                tokio::task::yield_now().await;
            }
            let refused = read_reply(ask_status(&path).await.unwrap()).await;
            assert!(is_busy(&refused), "{:.200}", format!("{refused:?}"));
            // Now they ask for the status and never read it.
            for stream in &mut stuck {
                stream.write_all(STATUS).await.unwrap();
            }
            // Bounded: the writes time out after WRITE_TIMEOUT, then a client is served.
            let mut served = None;
            for _ in 0..100 {
                let reply = read_reply(ask_status(&path).await.unwrap()).await;
                if reply.ok {
                    served = Some(reply);
                    break;
                }
                assert!(is_busy(&reply), "{:.200}", format!("{reply:?}"));
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            let served = served.expect("no client was served after the stuck ones");
            assert_eq!(
                served.result.and_then(|r| r.as_str().map(str::len)),
                Some(BIG)
            );
            drop(stuck);
        });
    }
}
