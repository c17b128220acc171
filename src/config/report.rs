//! What `baton check-config` prints: one summary line per instance, or a JSON report.

use super::Loaded;
use super::diag::Diagnostic;
use super::model::{Fallback, Family, InitialState, Instance};
use super::source::Sources;
use serde::Serialize;

/// An advert interval in centiseconds as seconds: `1s`, `0.05s`, `1.5s`.
pub fn seconds(cs: u16) -> String {
    let whole = cs / 100;
    let frac = cs % 100;
    if frac == 0 {
        return format!("{whole}s");
    }
    let frac = format!("{frac:02}");
    format!("{whole}.{}s", frac.trim_end_matches('0'))
}

fn family(f: Family) -> &'static str {
    match f {
        Family::IPv4 => "IPv4",
        Family::IPv6 => "IPv6",
    }
}

fn state(s: InitialState) -> &'static str {
    match s {
        InitialState::Master => "MASTER",
        InitialState::Backup => "BACKUP",
    }
}

fn fallback(f: Fallback) -> &'static str {
    match f {
        Fallback::Automatic => "automatic",
        Fallback::Manual => "manual",
    }
}

/// `VI_1: eth0 vrid 51 IPv4 VRRPv2 priority 150 advert 1s state BACKUP fallback automatic VIPs 192.0.2.100/24`
pub fn summary_line(i: &Instance) -> String {
    let vips: Vec<String> = i.vips.iter().map(ToString::to_string).collect();
    format!(
        "{}: {} vrid {} {} VRRPv{} priority {} advert {} state {} fallback {} VIPs {}",
        i.name,
        i.interface,
        i.vrid,
        family(i.family),
        i.version.number(),
        i.priority,
        seconds(i.advert_int_cs),
        state(i.state),
        fallback(i.fallback),
        if vips.is_empty() {
            "-".to_string()
        } else {
            vips.join(",")
        },
    )
}

/// One diagnostic in the JSON report.
#[derive(Debug, Serialize)]
pub struct JsonDiagnostic {
    pub file: String,
    pub line: u32,
    pub col: u32,
    pub message: String,
    pub help: Option<String>,
}

/// One instance in the JSON report.
#[derive(Debug, Serialize)]
pub struct JsonInstance {
    pub name: String,
    pub interface: String,
    pub vrid: u8,
    pub family: &'static str,
    pub version: u8,
    pub priority: u8,
    pub advert_int: String,
    pub advert_int_cs: u16,
    pub state: &'static str,
    pub fallback: &'static str,
    pub vips: Vec<String>,
    pub excluded_vips: Vec<String>,
    pub routes: Vec<String>,
    pub rules: Vec<String>,
    pub unicast_peers: Vec<String>,
}

/// The JSON report of `check-config --json`.
#[derive(Debug, Serialize)]
pub struct JsonReport {
    pub valid: bool,
    pub errors: Vec<JsonDiagnostic>,
    pub warnings: Vec<JsonDiagnostic>,
    pub instances: Vec<JsonInstance>,
}

fn json_diagnostic(d: &Diagnostic, sources: &Sources) -> JsonDiagnostic {
    JsonDiagnostic {
        file: sources.path(d.span.file).to_string(),
        line: d.span.line,
        col: d.span.col,
        message: d.message.clone(),
        help: d.help.clone(),
    }
}

fn json_instance(i: &Instance) -> JsonInstance {
    JsonInstance {
        name: i.name.clone(),
        interface: i.interface.clone(),
        vrid: i.vrid,
        family: family(i.family),
        version: i.version.number(),
        priority: i.priority,
        advert_int: seconds(i.advert_int_cs),
        advert_int_cs: i.advert_int_cs,
        state: state(i.state),
        fallback: fallback(i.fallback),
        vips: i.vips.iter().map(ToString::to_string).collect(),
        excluded_vips: i.excluded_vips.iter().map(ToString::to_string).collect(),
        routes: i.routes.iter().map(ToString::to_string).collect(),
        rules: i.rules.iter().map(ToString::to_string).collect(),
        unicast_peers: i.unicast_peers.iter().map(|p| p.addr.to_string()).collect(),
    }
}

impl JsonReport {
    pub fn from_loaded(loaded: &Loaded) -> JsonReport {
        let render = |d: &Diagnostic| json_diagnostic(d, &loaded.sources);
        JsonReport {
            valid: loaded.is_valid(),
            errors: loaded.errors().map(render).collect(),
            warnings: loaded.warnings().map(render).collect(),
            instances: loaded
                .model
                .iter()
                .flat_map(|m| m.instances.iter().map(json_instance))
                .collect(),
        }
    }

    /// The report for a main file that could not be read.
    pub fn unreadable(path: &str, message: String) -> JsonReport {
        JsonReport {
            valid: false,
            errors: vec![JsonDiagnostic {
                file: path.to_string(),
                line: 0,
                col: 0,
                message,
                help: None,
            }],
            warnings: Vec::new(),
            instances: Vec::new(),
        }
    }
}

/// "1 error", "2 warnings".
pub fn count(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advert_seconds() {
        assert_eq!(seconds(100), "1s");
        assert_eq!(seconds(5), "0.05s");
        assert_eq!(seconds(150), "1.5s");
        assert_eq!(seconds(4095), "40.95s");
    }
}
