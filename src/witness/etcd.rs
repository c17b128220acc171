//! A small etcd v3 client over etcd's JSON gateway (`POST /v3/...`, in every etcd since 3.4).
//!
//! Only what a lease on one key per group needs: grant, keep alive and revoke a lease, read
//! a key, and put a key under a lease if nobody holds it (one transaction). Each request is
//! bounded by the configured timeout; the endpoints are tried in turn, starting with the
//! last one that answered. One connection is kept open and requests go through it one at
//! a time (a key's requests are a few per lease time).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

/// Replies larger than this are refused (a range of one key is a few hundred bytes).
const MAX_REPLY: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// No endpoint answered in time.
    #[error("{0}")]
    Unreachable(String),
    /// An endpoint answered with an error (etcd's message).
    #[error("etcd: {0}")]
    Refused(String),
}

/// The holder of a key: its value (the holder's name) and lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub name: String,
    pub lease: i64,
}

/// What an attempt to take a key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquire {
    /// The key is now ours, under our lease.
    Taken,
    /// Somebody holds it.
    Held(Holder),
}

pub struct Client {
    endpoints: Vec<String>,
    timeout: Duration,
    tls: Option<super::tls::Connector>,
    conn: Mutex<Conn>,
}

#[derive(Default)]
struct Conn {
    /// The endpoint tried first: the last one that answered.
    preferred: usize,
    open: Option<(usize, SendRequest<Full<Bytes>>)>,
}

impl Client {
    pub fn new(
        endpoints: Vec<String>,
        timeout: Duration,
        tls: Option<super::tls::Connector>,
    ) -> Self {
        Client {
            endpoints,
            timeout,
            tls,
            conn: Mutex::new(Conn::default()),
        }
    }

    /// The endpoint that answered last.
    pub async fn endpoint(&self) -> String {
        let conn = self.conn.lock().await;
        self.endpoints[conn.preferred].clone()
    }

    /// A new lease of `ttl` seconds; its ID.
    pub async fn grant(&self, ttl: u32) -> Result<i64, Error> {
        let reply = self.call("/v3/lease/grant", json!({ "TTL": ttl })).await?;
        int(&reply["ID"]).ok_or_else(|| bad("lease grant", &reply))
    }

    /// Keep a lease alive: its remaining TTL in seconds, 0 if it has expired or is gone.
    pub async fn keep_alive(&self, lease: i64) -> Result<i64, Error> {
        let reply = self
            .call("/v3/lease/keepalive", json!({ "ID": lease.to_string() }))
            .await?;
        // The gateway answers a stream of `{"result": ...}`; one request, one result.
        let result = &reply["result"];
        if result.is_null() {
            return Err(bad("lease keepalive", &reply));
        }
        Ok(int(&result["TTL"]).unwrap_or(0))
    }

    /// Give a lease up; the keys under it are deleted. A lease already gone is fine.
    pub async fn revoke(&self, lease: i64) -> Result<(), Error> {
        match self
            .call("/v3/lease/revoke", json!({ "ID": lease.to_string() }))
            .await
        {
            Err(Error::Refused(m)) if m.contains("lease not found") => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// Who holds `key`, if anybody.
    pub async fn holder(&self, key: &str) -> Result<Option<Holder>, Error> {
        let reply = self
            .call("/v3/kv/range", json!({ "key": B64.encode(key) }))
            .await?;
        Ok(holder_in(&reply))
    }

    /// Put `key` = `name` under `lease` if the key does not exist; otherwise say who holds it.
    pub async fn acquire(&self, key: &str, name: &str, lease: i64) -> Result<Acquire, Error> {
        let k = B64.encode(key);
        let body = json!({
            "compare": [{ "key": k, "result": "EQUAL", "target": "CREATE", "create_revision": "0" }],
            "success": [{ "request_put": { "key": k, "value": B64.encode(name), "lease": lease.to_string() } }],
            "failure": [{ "request_range": { "key": k } }],
        });
        let reply = self.call("/v3/kv/txn", body).await?;
        if reply["succeeded"].as_bool() == Some(true) {
            return Ok(Acquire::Taken);
        }
        let range = &reply["responses"][0]["response_range"];
        match holder_in(range) {
            Some(h) => Ok(Acquire::Held(h)),
            // Deleted between the compare and the range: try again later.
            None => Err(Error::Refused(
                "the key changed during the transaction".into(),
            )),
        }
    }

    /// POST `body` to `path` on the preferred endpoint, then on each other one.
    async fn call(&self, path: &str, body: Value) -> Result<Value, Error> {
        let mut conn = self.conn.lock().await;
        let body = Bytes::from(body.to_string());
        let mut last = String::new();
        for step in 0..self.endpoints.len() {
            let index = (conn.preferred + step) % self.endpoints.len();
            let attempt = self.attempt(&mut conn, index, path, body.clone());
            match tokio::time::timeout(self.timeout, attempt).await {
                Ok(Ok(reply)) => {
                    conn.preferred = index;
                    return reply;
                }
                Ok(Err(e)) => last = format!("{}: {e}", self.endpoints[index]),
                Err(_) => {
                    last = format!(
                        "{}: no answer within {} ms",
                        self.endpoints[index],
                        self.timeout.as_millis()
                    )
                }
            }
            conn.open = None;
        }
        Err(Error::Unreachable(last))
    }

    /// One request on endpoint `index`: `Ok(reply)` once it answered (an etcd error is an
    /// answer), `Err` if it could not be reached.
    async fn attempt(
        &self,
        conn: &mut Conn,
        index: usize,
        path: &str,
        body: Bytes,
    ) -> Result<Result<Value, Error>, String> {
        if conn
            .open
            .as_ref()
            .is_none_or(|(i, s)| *i != index || s.is_closed())
        {
            conn.open = Some((index, self.connect(index).await?));
        }
        let Some((_, sender)) = conn.open.as_mut() else {
            return Err("no connection".into());
        };
        sender.ready().await.map_err(|e| e.to_string())?;
        let authority = authority(&self.endpoints[index]);
        let request = hyper::Request::post(path)
            .header(hyper::header::HOST, authority)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(body))
            .map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let bytes = Limited::new(response.into_body(), MAX_REPLY)
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        let reply = parse_reply(&bytes).map_err(|e| format!("bad reply: {e}"))?;
        if !status.is_success() || !reply["error"].is_null() {
            return Ok(Err(Error::Refused(message(&reply, status))));
        }
        Ok(Ok(reply))
    }

    async fn connect(&self, index: usize) -> Result<SendRequest<Full<Bytes>>, String> {
        let authority = authority(&self.endpoints[index]);
        let tcp = TcpStream::connect(authority)
            .await
            .map_err(|e| e.to_string())?;
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            None => handshake(tcp).await,
            Some(tls) => handshake(tls.connect(host_of(authority), tcp).await?).await,
        }
    }
}

async fn handshake<S>(stream: S) -> Result<SendRequest<Full<Bytes>>, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    Ok(sender)
}

/// The gateway's keepalive answers a stream of JSON objects; the first one is the answer.
fn parse_reply(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    let mut stream = serde_json::Deserializer::from_slice(bytes).into_iter::<Value>();
    stream.next().unwrap_or(Ok(Value::Null))
}

fn message(reply: &Value, status: hyper::StatusCode) -> String {
    let from = |v: &Value| v.as_str().map(str::to_string);
    from(&reply["message"])
        .or_else(|| from(&reply["error"]["message"]))
        .or_else(|| from(&reply["error"]))
        .unwrap_or_else(|| format!("HTTP {status}"))
}

fn holder_in(range: &Value) -> Option<Holder> {
    let kv = range["kvs"].get(0)?;
    let name = kv["value"]
        .as_str()
        .and_then(|v| B64.decode(v).ok())
        .map(|v| String::from_utf8_lossy(&v).into_owned())
        .unwrap_or_default();
    Some(Holder {
        name,
        lease: int(&kv["lease"]).unwrap_or(0),
    })
}

/// etcd's gateway writes 64-bit integers as strings.
fn int(v: &Value) -> Option<i64> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

fn bad(what: &str, reply: &Value) -> Error {
    let mut text = reply.to_string();
    text.truncate(200);
    Error::Refused(format!("unexpected {what} reply: {text}"))
}

/// `http://host:port` → `host:port`.
fn authority(endpoint: &str) -> &str {
    endpoint
        .split_once("://")
        .map_or(endpoint, |(_, rest)| rest)
}

/// `host:port` or `[v6]:port` → host.
fn host_of(authority: &str) -> &str {
    let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

/// Shared so that every key's task uses one client.
pub type Shared = Arc<Client>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_gateway_shapes() {
        let range = json!({"kvs":[{"key":"a2V5","value":"bm9kZTE=","lease":"7587862076338455812"}],"count":"1"});
        assert_eq!(
            holder_in(&range),
            Some(Holder {
                name: "node1".into(),
                lease: 7587862076338455812
            })
        );
        assert_eq!(holder_in(&json!({"count":"0"})), None);
        let stream = br#"{"result":{"ID":"5","TTL":"3"}}{"result":{"ID":"5","TTL":"3"}}"#;
        assert_eq!(int(&parse_reply(stream).unwrap()["result"]["TTL"]), Some(3));
        assert_eq!(host_of("[2001:db8::1]:2379"), "2001:db8::1");
        assert_eq!(authority("https://192.0.2.1:2379"), "192.0.2.1:2379");
        let err = json!({"error":"etcdserver: requested lease not found","code":5,"message":"etcdserver: requested lease not found"});
        assert_eq!(
            message(&err, hyper::StatusCode::NOT_FOUND),
            "etcdserver: requested lease not found"
        );
    }
}
