//! Replays the fuzz seeds (`fuzz/corpus/TARGET/`) and every input that once crashed a fuzz
//! target (`fuzz/regressions/TARGET/`) through the same checks the cargo-fuzz targets run
//! (`fuzz/checks.rs`), in the normal test suite and without cargo-fuzz.

#[path = "../fuzz/checks.rs"]
mod checks;

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut inputs = 0;
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("read the corpus directory").path();
            let data = std::fs::read(&path).expect("read a corpus file");
            if std::panic::catch_unwind(|| check(&data)).is_err() {
                panic!("{target} fails on {}", path.display());
            }
            inputs += 1;
        }
    }
    assert!(
        inputs > 0,
        "no inputs for {target} under {}",
        root.display()
    );
}

#[test]
fn vrrp_decode() {
    replay("vrrp_decode", checks::vrrp_decode);
}

#[test]
fn vrrp_roundtrip() {
    replay("vrrp_roundtrip", checks::vrrp_roundtrip);
}

#[test]
fn config_parse() {
    replay("config_parse", checks::config_parse);
}

#[test]
fn control_request() {
    replay("control_request", checks::control_request);
}
