//! The client side of the control socket, used by the CLI: one request, one reply.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use super::protocol::{Command, Reply, Request, VERSION};

/// Why the daemon could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "cannot reach the baton daemon at {path}: {source} (is `baton run` running, and is --socket right?)"
    )]
    Connect {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("talking to the baton daemon at {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the baton daemon at {path} sent an unreadable reply: {detail}")]
    BadReply { path: String, detail: String },
}

/// Send `command` to the daemon at `socket` and wait (at most `timeout`) for its reply.
pub fn request(socket: &Path, command: Command, timeout: Duration) -> Result<Reply, ClientError> {
    let path = socket.display().to_string();
    let io = |source| ClientError::Io {
        path: path.clone(),
        source,
    };
    let mut stream = UnixStream::connect(socket).map_err(|source| ClientError::Connect {
        path: path.clone(),
        source,
    })?;
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    stream.set_write_timeout(Some(timeout)).map_err(io)?;
    let request = Request {
        version: VERSION,
        command,
    };
    let mut line = serde_json::to_string(&request).map_err(|e| ClientError::BadReply {
        path: path.clone(),
        detail: e.to_string(),
    })?;
    line.push('\n');
    // A daemon that is busy answers at once and closes, maybe before the request is
    // written: its one-line answer is still there to read.
    let written = stream.write_all(line.as_bytes());
    let mut reply = String::new();
    let read = BufReader::new(&stream).read_line(&mut reply);
    match (written, read) {
        (_, Ok(n)) if n > 0 => {}
        (Err(e), _) | (Ok(()), Err(e)) => return Err(io(e)),
        (Ok(()), Ok(_)) => {}
    }
    serde_json::from_str(&reply).map_err(|e| ClientError::BadReply {
        path,
        detail: format!("{e}: {:?}", reply.trim()),
    })
}
