//! The daemon's half of the control socket: accept connections, read one request line
//! each (bounded in size and time), hand it to the event loop, write its reply.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

use super::protocol::{Command, MAX_REQUEST, Reply, parse_request};

/// A request for the event loop, with where to send its reply.
pub struct ControlRequest {
    pub command: Command,
    pub reply: oneshot::Sender<Reply>,
}

/// How long a client may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
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

/// Accept connections until the event loop goes away.
pub async fn serve(listener: UnixListener, requests: mpsc::Sender<ControlRequest>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::task::spawn_local(connection(stream, requests.clone()));
            }
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
    let (read, mut write) = stream.into_split();
    let reply = match read_request(read).await {
        Ok(command) => ask(command, &requests).await,
        Err(message) => Reply::error(message),
    };
    if let Err(e) = write.write_all(reply.to_line().as_bytes()).await {
        debug!("control socket: client left before the reply: {e}");
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

async fn ask(command: Command, requests: &mpsc::Sender<ControlRequest>) -> Reply {
    let (reply, answer) = oneshot::channel();
    if requests
        .send(ControlRequest { command, reply })
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
