//! The control protocol: one JSON object per line, each way, versioned.
//!
//! ```text
//! -> {"version":1,"command":"status","instance":"PG_VIP"}
//! <- {"version":1,"ok":true,"result":{...}}
//! <- {"version":1,"ok":false,"error":"no instance named PG_VIPX"}
//! ```
//!
//! Parsing never panics; a malformed, oversized or unknown request gets an error reply.

use serde::{Deserialize, Serialize};

/// The protocol version this build speaks.
pub const VERSION: u32 = 1;
/// The longest request line accepted, in bytes (a real request is under 200).
pub const MAX_REQUEST: usize = 4096;

/// What a client asks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    Status {
        #[serde(default)]
        instance: Option<String>,
    },
    Fallback {
        #[serde(default)]
        instance: Option<String>,
    },
    Resign {
        #[serde(default)]
        instance: Option<String>,
        /// Seconds during which this node does not take the VIP back.
        #[serde(default = "default_hold")]
        hold_s: u64,
    },
    Lock {
        instance: String,
    },
    Unlock {
        instance: String,
    },
    Reconfigure,
}

fn default_hold() -> u64 {
    60
}

/// A request line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub version: u32,
    #[serde(flatten)]
    pub command: Command,
}

/// A reply line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub version: u32,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Reply {
    pub fn ok(result: serde_json::Value) -> Reply {
        Reply {
            version: VERSION,
            ok: true,
            result: Some(result),
            error: None,
        }
    }

    pub fn error(message: impl Into<String>) -> Reply {
        Reply {
            version: VERSION,
            ok: false,
            result: None,
            error: Some(message.into()),
        }
    }

    /// The reply as one line, newline included.
    pub fn to_line(&self) -> String {
        let mut line = serde_json::to_string(self)
            .unwrap_or_else(|_| r#"{"version":1,"ok":false,"error":"unprintable reply"}"#.into());
        line.push('\n');
        line
    }
}

/// Parse one request line; the error is the message to send back.
pub fn parse_request(line: &[u8]) -> Result<Request, String> {
    if line.len() > MAX_REQUEST {
        return Err(format!(
            "request of {} bytes is longer than the {MAX_REQUEST}-byte limit",
            line.len()
        ));
    }
    let text = std::str::from_utf8(line).map_err(|_| "request is not UTF-8".to_string())?;
    let value: serde_json::Value =
        serde_json::from_str(text.trim()).map_err(|e| format!("request is not JSON: {e}"))?;
    match value.get("version").and_then(serde_json::Value::as_u64) {
        Some(v) if v == u64::from(VERSION) => {}
        Some(v) => {
            return Err(format!(
                "protocol version {v} is not supported (this daemon speaks {VERSION})"
            ));
        }
        None => return Err("request has no \"version\"".into()),
    }
    serde_json::from_value(value).map_err(|e| format!("bad request: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip() {
        for command in [
            Command::Status { instance: None },
            Command::Status {
                instance: Some("PG_VIP".into()),
            },
            Command::Fallback { instance: None },
            Command::Resign {
                instance: Some("VI".into()),
                hold_s: 30,
            },
            Command::Lock {
                instance: "VI".into(),
            },
            Command::Unlock {
                instance: "VI".into(),
            },
            Command::Reconfigure,
        ] {
            let request = Request {
                version: VERSION,
                command,
            };
            let line = serde_json::to_string(&request).unwrap();
            assert_eq!(parse_request(line.as_bytes()), Ok(request));
        }
    }

    #[test]
    fn the_wire_form_is_flat() {
        let line = br#"{"version":1,"command":"status","instance":"PG_VIP"}"#;
        assert_eq!(
            parse_request(line).unwrap().command,
            Command::Status {
                instance: Some("PG_VIP".into())
            }
        );
        let resign = parse_request(br#"{"version":1,"command":"resign"}"#).unwrap();
        assert_eq!(
            resign.command,
            Command::Resign {
                instance: None,
                hold_s: 60
            }
        );
    }

    #[test]
    fn bad_requests_are_explained() {
        let cases: [(&[u8], &str); 6] = [
            (b"hello", "not JSON"),
            (br#"{"command":"status"}"#, "no \"version\""),
            (
                br#"{"version":9,"command":"status"}"#,
                "version 9 is not supported",
            ),
            (br#"{"version":1,"command":"explode"}"#, "bad request"),
            (br#"{"version":1,"command":"lock"}"#, "bad request"),
            (b"\xff\xfe", "not UTF-8"),
        ];
        for (line, expected) in cases {
            let error = parse_request(line).unwrap_err();
            assert!(
                error.contains(expected),
                "{error:?} should mention {expected:?}"
            );
        }
        let huge = vec![b' '; MAX_REQUEST + 1];
        assert!(parse_request(&huge).unwrap_err().contains("limit"));
    }

    #[test]
    fn replies_are_single_lines() {
        let line = Reply::error("no such\ninstance").to_line();
        assert_eq!(line.matches('\n').count(), 1);
        assert!(line.ends_with('\n'));
    }
}
