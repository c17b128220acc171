//! The log lines of the peer configuration alarm (`vrrp::peers`): one warning when a peer
//! starts to disagree, one line when it is cleared; a change while raised, or each advert of
//! a peer that still disagrees, is only a debug line.

use tracing::{debug, info, warn};

use crate::vrrp::peers::{Difference, MAX_PEERS, PeerAlarm};

/// Log `alarm` of instance `name` (`v2`: VRRPv2, where another interval is discarded).
pub(super) fn log(name: &str, v2: bool, alarm: &PeerAlarm) {
    match alarm {
        PeerAlarm::Raised { peer, differences } => warn!(
            instance = name,
            "peer {peer} advertises another configuration: {}{}",
            words(differences),
            if differences.iter().any(|d| d.discards(v2)) {
                "; its adverts are discarded, both nodes may hold the VIP"
            } else {
                ""
            }
        ),
        PeerAlarm::Changed { peer, differences } => debug!(
            instance = name,
            "peer {peer} now advertises: {}",
            words(differences)
        ),
        PeerAlarm::Agrees { peer } => info!(
            instance = name,
            "peer {peer} advertises our configuration again; alarm cleared"
        ),
        PeerAlarm::Silent { peer } => info!(
            instance = name,
            "peer {peer} whose configuration differed is no longer heard; alarm cleared"
        ),
        PeerAlarm::Untracked { peer } => warn!(
            instance = name,
            "more than {MAX_PEERS} peers advertise another configuration; {peer} and any \
             further ones are not tracked"
        ),
    }
}

fn words(differences: &[Difference]) -> String {
    differences
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
