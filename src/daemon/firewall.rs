//! `no_accept` (and `strict_mode`, which implies it): RFC 5798 6.1 Accept_Mode False, "a
//! virtual router in Master state [does not] accept packets addressed to the address
//! owner's IPvX address as its own if it is not the IPvX address owner". keepalived does it
//! with nftables (keepalived.conf(5), "nftables"); so does baton, through the `nft` program
//! (nftables' JSON API, typed by the `nftables` crate).
//!
//! One table, `inet baton`, holds an input chain (priority -1, before the usual filter
//! chains) that drops packets addressed to the virtual addresses of every instance without
//! Accept_Mode that is not their owner (priority 255). Neighbour solicitations and
//! advertisements to an IPv6 one pass, or the master could not answer for it. The addresses
//! stay in the sets whatever the state: a node that does not hold an address receives
//! nothing for it locally, so the rule only bites on the master, and no transition has to
//! wait for `nft`. The table is replaced whole (one transaction) at start and on a reload
//! that changes the sets, and deleted on a clean stop; a table left by a crash is replaced
//! at the next start.
//!
//! `nft` runs on the blocking pool, never on the protocol thread, bounded by [`NFT_TIMEOUT`].

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tracing::{error, info};

use crate::config::Model;

/// The table baton owns.
pub const TABLE: &str = "baton";
/// How long one `nft` run may take before it is reported as failed.
const NFT_TIMEOUT: Duration = Duration::from_secs(10);

/// The addresses whose traffic is dropped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Drops {
    pub addresses: BTreeSet<IpAddr>,
}

impl Drops {
    /// The virtual addresses (advertised or excluded) of every instance without
    /// Accept_Mode that is not their owner.
    pub fn of(model: &Model) -> Drops {
        let addresses = model
            .instances
            .iter()
            .filter(|i| !i.accept && !i.is_address_owner())
            .flat_map(|i| i.vips.iter().chain(&i.excluded_vips))
            .map(|v| v.addr)
            .collect();
        Drops { addresses }
    }

    pub fn is_empty(&self) -> bool {
        self.addresses.is_empty()
    }

    fn v4(&self) -> Vec<String> {
        self.addresses
            .iter()
            .filter(|a| a.is_ipv4())
            .map(IpAddr::to_string)
            .collect()
    }

    fn v6(&self) -> Vec<String> {
        self.addresses
            .iter()
            .filter(|a| a.is_ipv6())
            .map(IpAddr::to_string)
            .collect()
    }
}

/// The `nft -j` batch that replaces the table with one for `drops` (or only deletes it,
/// when there is nothing to drop). "add table" first, so that "delete table" never fails
/// on a machine without one.
pub fn batch(drops: &Drops) -> Value {
    let t = |extra: Value| {
        let mut o = json!({"family": "inet", "table": TABLE});
        if let (Some(o), Value::Object(e)) = (o.as_object_mut(), extra) {
            o.extend(e);
        }
        o
    };
    let mut cmds = vec![
        json!({"add": {"table": {"family": "inet", "name": TABLE}}}),
        json!({"delete": {"table": {"family": "inet", "name": TABLE}}}),
    ];
    if !drops.is_empty() {
        cmds.push(json!({"add": {"table": {"family": "inet", "name": TABLE}}}));
        cmds.push(json!({"add": {"chain": t(json!({
            "name": "input", "type": "filter", "hook": "input", "prio": -1, "policy": "accept"
        }))}}));
        for (name, kind, elems) in [
            ("vips4", "ipv4_addr", drops.v4()),
            ("vips6", "ipv6_addr", drops.v6()),
        ] {
            let mut set = t(json!({"name": name, "type": kind}));
            if !elems.is_empty() {
                set["elem"] = json!(elems);
            }
            cmds.push(json!({"add": {"set": set}}));
        }
        let daddr = |proto: &str, set: &str| {
            json!({"match": {"op": "==",
                "left": {"payload": {"protocol": proto, "field": "daddr"}},
                "right": format!("@{set}")}})
        };
        let nd = json!({"match": {"op": "==",
            "left": {"payload": {"protocol": "icmpv6", "field": "type"}},
            "right": {"set": ["nd-neighbor-solicit", "nd-neighbor-advert"]}}});
        for expr in [
            json!([daddr("ip", "vips4"), {"drop": null}]),
            json!([daddr("ip6", "vips6"), nd, {"accept": null}]),
            json!([daddr("ip6", "vips6"), {"drop": null}]),
        ] {
            cmds.push(json!({"add": {"rule": t(json!({"chain": "input", "expr": expr}))}}));
        }
    }
    json!({"nftables": cmds})
}

/// Apply `batch(drops)` with `nft`: typed by the `nftables` crate first (a batch it cannot
/// read is a bug here, not a firewall change).
pub fn apply_blocking(drops: &Drops) -> Result<(), String> {
    let batch = batch(drops);
    let typed: nftables::schema::Nftables =
        serde_json::from_value(batch).map_err(|e| format!("the nftables batch is invalid: {e}"))?;
    nftables::helper::apply_ruleset(&typed).map_err(|e| match e {
        nftables::helper::NftablesError::NftFailed { stderr, .. } => {
            format!("nft refused the rules: {}", stderr.trim())
        }
        other => other.to_string(),
    })
}

/// The last outcome, for `baton status`: `None` while the rules are in place (or none are
/// needed).
#[derive(Clone)]
pub struct Firewall {
    pub problem: Arc<Mutex<Option<String>>>,
    installed: Option<Drops>,
    /// What writes the table: [`apply_blocking`], or a harness's record of it.
    nft: Nft,
}

/// Puts a table of drops in place, on a blocking thread.
pub type Nft = Arc<dyn Fn(&Drops) -> Result<(), String> + Send + Sync>;

impl Firewall {
    pub fn new(nft: Nft) -> Firewall {
        Firewall {
            problem: Arc::default(),
            installed: None,
            nft,
        }
    }

    /// Put the rules for `model` in place (or take them away), unless they already are.
    /// Awaited at start (before any instance can be master); on a reload, `wait` is false
    /// and the outcome is only logged and kept for status.
    pub async fn apply(&mut self, model: &Model, wait: bool) {
        let drops = Drops::of(model);
        if self.installed.as_ref() == Some(&drops) {
            return;
        }
        let at_start = self.installed.is_none();
        self.installed = Some(drops.clone());
        let problem = self.problem.clone();
        let nft = self.nft.clone();
        let task = tokio::task::spawn_blocking(move || {
            let outcome = nft(&drops);
            if at_start && drops.is_empty() {
                // Only a table left by a crash was removed (if any); a machine without
                // nft is no problem when nothing is to be dropped.
                if let Err(e) = outcome {
                    tracing::debug!("no leftover nftables table {TABLE} removed: {e}");
                }
                return;
            }
            report(&drops, outcome, &problem);
        });
        if wait && tokio::time::timeout(NFT_TIMEOUT, task).await.is_err() {
            let why = format!("nft did not answer within {}s", NFT_TIMEOUT.as_secs());
            error!("no_accept: {why}");
            *lock(&self.problem) = Some(why);
        }
    }

    /// Delete the table on a clean stop (bounded).
    pub async fn remove(&mut self) {
        if self.installed.take().is_none_or(|d| d.is_empty()) {
            return;
        }
        let nft = self.nft.clone();
        let task = tokio::task::spawn_blocking(move || nft(&Drops::default()));
        match tokio::time::timeout(NFT_TIMEOUT, task).await {
            Ok(Ok(Ok(()))) => info!("no_accept: nftables table {TABLE} removed"),
            Ok(Ok(Err(e))) => error!("no_accept: could not remove nftables table {TABLE}: {e}"),
            _ => error!("no_accept: nft did not answer; nftables table {TABLE} may be left"),
        }
    }
}

fn lock(m: &Mutex<Option<String>>) -> std::sync::MutexGuard<'_, Option<String>> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn report(drops: &Drops, outcome: Result<(), String>, problem: &Mutex<Option<String>>) {
    match outcome {
        Ok(()) if drops.is_empty() => {
            info!("no_accept: no instance drops traffic now; nftables table {TABLE} removed");
            *lock(problem) = None;
        }
        Ok(()) => {
            info!(
                "no_accept: traffic to {} virtual address(es) dropped (nftables table inet {TABLE})",
                drops.addresses.len()
            );
            *lock(problem) = None;
        }
        Err(e) => {
            let why = format!(
                "traffic to the virtual addresses of no_accept instances is NOT dropped: {e}"
            );
            error!("no_accept: {why}");
            *lock(problem) = Some(why);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drops(list: &[&str]) -> Drops {
        Drops {
            addresses: list.iter().map(|a| a.parse().unwrap()).collect(),
        }
    }

    #[test]
    fn the_batch_replaces_the_table_and_is_read_by_the_nftables_crate() {
        let b = batch(&drops(&["192.0.2.100", "2001:db8::100"]));
        let typed: nftables::schema::Nftables = serde_json::from_value(b.clone()).expect("typed");
        assert_eq!(typed.objects.len(), 9, "{b}");
        let text = b.to_string();
        assert!(text.contains(r#""elem":["192.0.2.100"]"#), "{text}");
        assert!(text.contains(r#""elem":["2001:db8::100"]"#), "{text}");
        assert!(text.contains(r#""right":"@vips4""#), "{text}");
        assert!(text.contains("nd-neighbor-solicit"), "{text}");
    }

    /// `nft --check` (nothing applied) accepts the batch, where nft is installed and may
    /// be run (root; CI installs nftables).
    #[test]
    fn nft_accepts_the_batch() {
        let b = batch(&drops(&["192.0.2.100", "2001:db8::100"]));
        let typed: nftables::schema::Nftables = serde_json::from_value(b).expect("typed");
        match nftables::helper::apply_ruleset_with_args(
            &typed,
            nftables::helper::DEFAULT_NFT,
            ["-c"],
        ) {
            Ok(()) => {}
            Err(nftables::helper::NftablesError::NftExecution { .. })
                if std::env::var_os("CI").is_none() =>
            {
                eprintln!("skipped: no nft here");
            }
            Err(nftables::helper::NftablesError::NftFailed { stderr, .. })
                if stderr.contains("Operation not permitted")
                    && std::env::var_os("CI").is_none() =>
            {
                eprintln!("skipped: nft needs root");
            }
            Err(e) => panic!("nft refused the batch: {e:?}"),
        }
    }

    #[test]
    fn nothing_to_drop_only_deletes_the_table() {
        let b = batch(&Drops::default());
        assert_eq!(b["nftables"].as_array().map(Vec::len), Some(2), "{b}");
        assert!(b["nftables"][1].get("delete").is_some(), "{b}");
    }
}
