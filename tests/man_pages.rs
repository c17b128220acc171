//! baton.conf(5) (`man/baton.conf.5`, hand-written) documents every keyword the
//! configuration parser reads, so the page and the parser cannot drift apart unnoticed.
//! The pages of baton(8) are generated from the clap definitions and need no such test;
//! `packaging/test` renders both with `groff -ww`.

use baton::config::validate::keywords;

fn page() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/man/baton.conf.5");
    std::fs::read_to_string(path).expect("man/baton.conf.5 is readable")
}

/// The words of the page as a reader sees them: roff escapes for `-` and `\&` undone.
fn words(page: &str) -> Vec<String> {
    page.replace("\\-", "-")
        .replace("\\&", "")
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | '"' | '(' | ')' | '[' | ']'))
        .map(|w| w.trim_end_matches(['.', ';', ':']).to_string())
        .filter(|w| !w.is_empty())
        .collect()
}

fn undocumented<'a>(known: &[&'a str], words: &[String]) -> Vec<&'a str> {
    known
        .iter()
        .copied()
        .filter(|k| !words.iter().any(|w| w == k))
        .collect()
}

#[test]
fn every_keyword_the_parser_reads_is_documented() {
    let words = words(&page());
    let mut missing = Vec::new();
    for (block, known) in [
        ("top level", keywords::TOP),
        ("global_defs", keywords::GLOBAL),
        ("vrrp_script", keywords::SCRIPT),
        ("track_file", keywords::TRACK_FILE),
        ("vrrp_instance", keywords::INSTANCE),
        ("vrrp_sync_group", keywords::SYNC_GROUP),
        ("authentication", keywords::AUTH),
        ("auth_hmac", keywords::AUTH_HMAC),
        ("witness", keywords::WITNESS),
    ] {
        for k in undocumented(known, &words) {
            missing.push(format!("{block}: {k}"));
        }
    }
    assert!(
        missing.is_empty(),
        "baton.conf(5) does not mention: {missing:?}"
    );
}

#[test]
fn every_accepted_and_ignored_instance_keyword_is_listed() {
    let words = words(&page());
    let mut missing = undocumented(keywords::INSTANCE_IGNORED, &words);
    missing.extend(undocumented(keywords::SYNC_GROUP_IGNORED, &words));
    assert!(
        missing.is_empty(),
        "baton.conf(5) does not list these ignored keywords: {missing:?}"
    );
}

#[test]
fn the_extensions_are_marked_as_such() {
    let page = page();
    for ext in [
        "fallback",
        "fallback_check",
        "fallback_check_timeout",
        "flap_hold_down",
        "flap_damping",
        "notify_timeout",
        "metrics_listen",
        "vip_probe_interval",
    ] {
        let header = format!(".BI \"{ext} \"");
        let entry = page
            .split(".TP\n")
            .find(|entry| entry.starts_with(&header))
            .unwrap_or_else(|| panic!("no entry starting with {header}"));
        assert!(
            entry.contains(".B baton extension."),
            "the entry for {ext} does not say it is a baton extension:\n{entry}"
        );
    }
}
