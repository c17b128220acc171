//! The VRRP packets on the client's wire: tcpdump on the client node writing a pcap file,
//! read back with tshark (its dissector judges checksums and lengths independently of
//! baton's codec).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::{Cluster, SETTLE};
use crate::lab::{IFNAME, Proc, poll};

/// tcpdump on the client `c`, every VRRP packet (IPv4 and IPv6) to `NAME.pcap`.
pub struct Capture {
    proc: Proc,
    pub file: PathBuf,
}

impl Capture {
    pub fn start(c: &Cluster, name: &str) -> Capture {
        let file = c.dir.path().join(format!("{name}.pcap"));
        let log = c.dir.path().join(format!("{name}.tcpdump.log"));
        let script = format!(
            "exec tcpdump -U --immediate-mode -n -i {IFNAME} -w {} 'ip proto 112 or ip6 proto 112' 2>{}",
            file.display(),
            log.display()
        );
        let proc = c.lab.spawn("c", &["sh", "-c", &script]);
        let started = poll(SETTLE, || {
            std::fs::read_to_string(&log).is_ok_and(|l| l.contains("listening on"))
        });
        assert!(
            started,
            "tcpdump did not start: {:?}",
            std::fs::read_to_string(&log)
        );
        Capture { proc, file }
    }

    /// Stop tcpdump (SIGTERM flushes the file).
    pub fn stop(&self) {
        self.proc.terminate();
        assert!(
            self.proc.wait_timeout(Duration::from_secs(10)).is_some(),
            "tcpdump did not stop"
        );
    }
}

/// `tshark -r FILE -Y vrrp` with one row per VRRP packet and one column per field in
/// `fields` (an absent field is an empty string).
pub fn vrrp_fields(file: &Path, fields: &[&str]) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.args(["-n", "-r"])
        .arg(file)
        .args(["-Y", "vrrp", "-T", "fields", "-E", "separator=,"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("run tshark");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            let row: Vec<String> = line.split(',').map(str::to_owned).collect();
            assert_eq!(row.len(), fields.len(), "tshark line {line:?}");
            row
        })
        .collect()
}
