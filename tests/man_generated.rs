//! The generated man pages kept in `man/` (baton(8) and baton-COMMAND(8), from the clap
//! definitions, packaged from there) are what the current code generates: a change of a
//! command, an option or its help text without `cargo run --example gen-docs -- --man man`
//! fails here.

#[allow(dead_code)]
#[path = "../examples/gen-docs.rs"]
mod gen_docs;

use std::collections::BTreeSet;
use std::path::Path;

fn pages(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .expect("read the directory")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".8"))
        .collect()
}

#[test]
fn the_man_pages_in_man_are_the_generated_ones() {
    let kept = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    let fresh = tempfile::tempdir().expect("temp dir");
    gen_docs::write_man_pages(fresh.path()).expect("generate");
    let (want, have) = (pages(fresh.path()), pages(&kept));
    assert_eq!(
        want, have,
        "man/ does not hold exactly the generated pages: run `cargo run --example gen-docs -- --man man`"
    );
    for name in &want {
        let new = std::fs::read(fresh.path().join(name)).expect("generated page");
        let old = std::fs::read(kept.join(name)).expect("kept page");
        assert!(
            new == old,
            "man/{name} is stale: run `cargo run --example gen-docs -- --man man`"
        );
    }
    // baton.conf(5) is written by hand and lives beside them.
    assert!(kept.join("baton.conf.5").is_file());
}
