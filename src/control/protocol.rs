//! The control protocol: one JSON object per line, each way, versioned.
//!
//! ```text
//! -> {"version":1,"command":"status","instance":"PG_VIP"}
//! <- {"version":1,"ok":true,"result":{...}}
//! <- {"version":1,"ok":false,"error":"no instance named PG_VIPX"}
//! ```
//!
//! Parsing never panics; a malformed, oversized or unknown request, or a number out of its
//! range, gets an error reply that names the field and the values it may take. The server
//! checks every number itself: a client need not be our CLI.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::vrrp::Event;

/// The protocol version this build speaks.
pub const VERSION: u32 = 1;
/// The longest request line accepted, in bytes (a real request is under 200).
pub const MAX_REQUEST: usize = 4096;
/// The longest `resign` hold, in seconds (one day; to keep a node out for longer, lock it).
pub const MAX_HOLD_S: u64 = 86_400;

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

impl Command {
    /// Is this command one that changes state (logged with the client's uid and pid)?
    pub fn changes_state(&self) -> bool {
        !matches!(self, Command::Status { .. })
    }

    /// The name of the command on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Status { .. } => "status",
            Command::Fallback { .. } => "fallback",
            Command::Resign { .. } => "resign",
            Command::Lock { .. } => "lock",
            Command::Unlock { .. } => "unlock",
            Command::Reconfigure => "reconfigure",
        }
    }

    /// The state-machine event an operator command becomes, as the daemon delivers it to
    /// the instance (`None` for `status` and `reconfigure`, which touch no instance).
    /// `fallback` becomes [`Event::Fallback`] once its `fallback_check` has passed, and
    /// `lock`/`unlock` once the lock file is written. Numbers are checked again here, so
    /// nothing out of range reaches the core whichever way the command was made.
    pub fn event(&self) -> Result<Option<Event>, String> {
        Ok(match self {
            Command::Status { .. } | Command::Reconfigure => None,
            Command::Fallback { .. } => Some(Event::Fallback),
            Command::Resign { hold_s, .. } => Some(Event::Resign {
                hold: resign_hold(*hold_s)?,
            }),
            Command::Lock { .. } => Some(Event::Lock),
            Command::Unlock { .. } => Some(Event::Unlock),
        })
    }
}

/// The hold of a `resign`, refused outside 0..=[`MAX_HOLD_S`] seconds.
pub fn resign_hold(hold_s: u64) -> Result<Duration, String> {
    if hold_s > MAX_HOLD_S {
        return Err(hold_error(&hold_s.to_string()));
    }
    Ok(Duration::from_secs(hold_s))
}

fn hold_error(got: &str) -> String {
    format!(
        "bad request: \"hold_s\" must be a whole number of seconds from 0 to {MAX_HOLD_S}, not {got}"
    )
}

/// A JSON value as it appears in an error message, cut short if it is long.
fn shown(value: &serde_json::Value) -> String {
    const MAX: usize = 40;
    let text = value.to_string();
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}

/// Every number a request may carry, checked before the request is decoded: the right
/// type (a whole, non-negative number, not a string or a float) and the right range.
fn check_numbers(value: &serde_json::Value) -> Result<(), String> {
    if let Some(hold) = value.get("hold_s") {
        match hold.as_u64() {
            Some(h) if h <= MAX_HOLD_S => {}
            _ => return Err(hold_error(&shown(hold))),
        }
    }
    Ok(())
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
        None => match value.get("version") {
            Some(v) => {
                return Err(format!("\"version\" must be {VERSION}, not {}", shown(v)));
            }
            None => return Err("request has no \"version\"".into()),
        },
    }
    check_numbers(&value)?;
    let request: Request =
        serde_json::from_value(value).map_err(|e| format!("bad request: {e}"))?;
    request.command.event()?;
    Ok(request)
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
    fn numbers_out_of_range_are_refused_with_the_field_and_range() {
        let ok = parse_request(br#"{"version":1,"command":"resign","hold_s":86400}"#).unwrap();
        assert_eq!(
            ok.command.event(),
            Ok(Some(Event::Resign {
                hold: Duration::from_secs(86_400)
            }))
        );
        let zero = parse_request(br#"{"version":1,"command":"resign","hold_s":0}"#).unwrap();
        assert_eq!(
            zero.command.event(),
            Ok(Some(Event::Resign {
                hold: Duration::ZERO
            }))
        );
        let huge = format!("\"{}\"", "9".repeat(400));
        for (hold, shown) in [
            ("18446744073709551615", "18446744073709551615"),
            ("86401", "86401"),
            ("-1", "-1"),
            ("1.5", "1.5"),
            ("1e3", "1000.0"),
            ("\"60\"", "\"60\""),
            ("null", "null"),
            ("[60]", "[60]"),
            (huge.as_str(), "..."),
        ] {
            let line = format!(r#"{{"version":1,"command":"resign","hold_s":{hold}}}"#);
            let error = parse_request(line.as_bytes()).unwrap_err();
            assert!(
                error.contains("\"hold_s\" must be a whole number of seconds from 0 to 86400"),
                "{hold}: {error}"
            );
            assert!(error.contains(shown), "{hold}: {error} should show {shown}");
            assert!(error.len() < 200, "{error}");
        }
        for version in ["18446744073709551615", "-1", "1.0", "\"1\""] {
            let line = format!(r#"{{"version":{version},"command":"status"}}"#);
            let error = parse_request(line.as_bytes()).unwrap_err();
            assert!(error.contains("version"), "{version}: {error}");
        }
        // A command made in code is checked again on its way to the core.
        let resign = Command::Resign {
            instance: None,
            hold_s: u64::MAX,
        };
        assert!(resign.event().unwrap_err().contains("from 0 to 86400"));
    }

    /// The request goes through the daemon's translation into a real state machine, at a
    /// clock as late as a `Duration` goes: the master hands over and nothing overflows.
    #[test]
    fn the_longest_hold_at_any_time_leaves_a_working_core() {
        use crate::vrrp::{Action, Config, Instance, State};
        use crate::wire::vrrp::Version;
        let line = br#"{"version":1,"command":"resign","hold_s":86400}"#;
        let event = parse_request(line)
            .unwrap()
            .command
            .event()
            .unwrap()
            .unwrap();
        for now in [
            Duration::from_secs(1),
            Duration::from_secs(u64::MAX / 2),
            Duration::MAX,
        ] {
            let address = "192.0.2.1".parse().unwrap();
            let mut machine = Instance::new(Config::new(Version::V3, 255, 100, address));
            machine.handle(now, Event::Startup);
            assert_eq!(machine.state(), State::Master);
            let actions = machine.handle(now, event.clone());
            assert!(
                actions.contains(&Action::SendAdvert { priority: 0 }),
                "{actions:?}"
            );
            assert_eq!(machine.state(), State::Backup);
            assert!(machine.no_preempt_until() >= now);
            let deadline = machine.next_deadline().unwrap();
            machine.handle(deadline, Event::Timeout);
        }
    }

    #[test]
    fn replies_are_single_lines() {
        let line = Reply::error("no such\ninstance").to_line();
        assert_eq!(line.matches('\n').count(), 1);
        assert!(line.ends_with('\n'));
    }
}
