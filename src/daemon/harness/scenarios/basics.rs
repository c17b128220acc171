//! Election, takeover and a clean stop.

use std::time::Duration;

use super::one_instance;
use crate::control::status::VrrpState;
use crate::daemon::harness::run;

#[test]
fn the_higher_priority_becomes_master_and_the_other_takes_over_when_it_crashes() {
    run(|mut lab| async move {
        let a = lab.node("a", "192.0.2.1/24");
        let b = lab.node("b", "192.0.2.2/24");
        lab.start(a, &one_instance(150, "")).await;
        lab.start(b, &one_instance(100, "")).await;
        let seen = lab
            .watch(
                "192.0.2.100",
                Duration::from_secs(10),
                Duration::from_millis(100),
            )
            .await;
        assert_eq!(seen.last().expect("seen"), &vec!["a".to_string()]);
        assert_eq!(lab.state(a, "VI_1").await, VrrpState::Master);
        assert_eq!(lab.state(b, "VI_1").await, VrrpState::Backup);
        lab.crash(a);
        // a's VIP stays on its interface after a crash (nothing removed it); b takes over.
        lab.secs(5.0).await;
        assert_eq!(lab.state(b, "VI_1").await, VrrpState::Master);
        let mut holders = lab.holders("192.0.2.100");
        holders.sort();
        assert_eq!(holders, ["a", "b"]);
    });
}
