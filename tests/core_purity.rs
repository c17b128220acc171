//! The protocol core (`src/wire`, `src/vrrp`) must stay pure: no async runtime, no sockets,
//! no clock, no files, no sleeping (DESIGN.md, "a pure core, thin I/O around it").

use std::fs;
use std::path::Path;

const FORBIDDEN: &[&str] = &[
    "tokio",
    "socket2",
    "rtnetlink",
    "std::net::UdpSocket",
    "std::net::TcpStream",
    "Instant::now",
    "SystemTime",
    "std::fs",
    "std::thread",
    "std::process",
    "libc::",
    "unsafe",
];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in fs::read_dir(dir).expect("source folder is readable") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn wire_and_vrrp_import_no_io_runtime_or_clock() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root.join("wire"), &mut files);
    rust_files(&root.join("vrrp"), &mut files);
    assert!(files.len() >= 6, "found the core sources: {files:?}");
    let mut offences = Vec::new();
    for file in &files {
        let text = fs::read_to_string(file).expect("source is readable");
        for (n, line) in text.lines().enumerate() {
            for word in FORBIDDEN {
                if line.contains(word) {
                    offences.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        offences.is_empty(),
        "the core must stay pure:\n{}",
        offences.join("\n")
    );
}
