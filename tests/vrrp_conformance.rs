//! Conformance tests of the VRRP state machine: each replays a list of timed events and
//! compares the actions that come out with the ones RFC 5798 section 6.4 (and keepalived's
//! extensions) require.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use baton::vrrp::{Action, Advert, Config, Event, Instance, Reason, Refusal, State, timers};
use baton::wire::vrrp::Version;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn addr(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
}

/// A VRRPv3 router at 192.0.2.10 with a 1 s interval.
fn config(priority: u8) -> Config {
    Config::new(Version::V3, priority, 100, addr(10))
}

fn advert(from: u8, priority: u8, interval_cs: u16) -> Event {
    Event::Advert(Advert {
        src: addr(from),
        priority,
        interval_cs,
    })
}

fn transition(from: State, to: State, reason: Reason) -> Action {
    Action::Transition { from, to, reason }
}

fn becomes_master(from: State, reason: Reason, priority: u8) -> Vec<Action> {
    vec![
        transition(from, State::Master, reason),
        Action::AddAddresses,
        Action::SendAdvert { priority },
        Action::Announce,
    ]
}

/// Feed `(time in ms, event, expected actions)` steps, checking each.
fn replay(instance: &mut Instance, steps: Vec<(u64, Event, Vec<Action>)>) {
    for (at, event, expected) in steps {
        let got = instance.handle(ms(at), event.clone());
        assert_eq!(got, expected, "at {at} ms after {event:?}");
    }
}

fn started(cfg: Config) -> Instance {
    let mut instance = Instance::new(cfg);
    instance.handle(Duration::ZERO, Event::Startup);
    instance
}

/// A master elected by its timer at Master_Down_Interval after start.
fn master(cfg: Config) -> (Instance, Duration) {
    let mut instance = started(cfg);
    let at = instance.next_deadline().expect("backup has a timer");
    instance.handle(at, Event::Timeout);
    assert_eq!(instance.state(), State::Master);
    (instance, at)
}

#[test]
fn startup_goes_to_backup_and_arms_master_down_timer() {
    let mut instance = Instance::new(config(100));
    replay(
        &mut instance,
        vec![(
            0,
            Event::Startup,
            vec![transition(
                State::Initialize,
                State::Backup,
                Reason::Startup,
            )],
        )],
    );
    // 3 * 1 s + (256 - 100) * 1 s / 256
    assert_eq!(
        instance.next_deadline(),
        Some(Duration::from_micros(3_609_375))
    );
}

#[test]
fn address_owner_starts_as_master() {
    let mut instance = Instance::new(config(255));
    replay(
        &mut instance,
        vec![(
            0,
            Event::Startup,
            becomes_master(State::Initialize, Reason::AddressOwner, 255),
        )],
    );
    assert_eq!(instance.next_deadline(), Some(ms(1000)));
}

/// keepalived's `state MASTER`: Master at start whatever the priority; a better master,
/// once heard, takes the addresses back (RFC 5798 6.4.3), with one last advert first.
#[test]
fn state_master_starts_as_master_and_yields_to_a_better_one() {
    let mut cfg = config(150);
    cfg.start_as_master = true;
    let mut instance = Instance::new(cfg);
    replay(
        &mut instance,
        vec![(
            0,
            Event::Startup,
            becomes_master(State::Initialize, Reason::InitialState, 150),
        )],
    );
    assert_eq!(instance.next_deadline(), Some(ms(1000)));
    instance.handle(ms(500), advert(20, 200, 100));
    assert_eq!(instance.state(), State::Backup);
}

/// `state MASTER` is a start-up rule only: a node locked by the operator stays Backup, and
/// one in fault goes to Fault.
#[test]
fn state_master_does_not_override_a_lock_or_a_fault() {
    let mut cfg = config(150);
    cfg.start_as_master = true;
    let mut faulted = Instance::new(cfg.clone());
    faulted.handle(Duration::ZERO, Event::Fault);
    faulted.handle(Duration::ZERO, Event::Startup);
    assert_eq!(faulted.state(), State::Fault);
    let mut locked = Instance::new(cfg);
    locked.handle(Duration::ZERO, Event::Lock);
    locked.handle(Duration::ZERO, Event::Startup);
    assert_eq!(locked.state(), State::Backup);
    let mut plain = Instance::new(config(150));
    plain.handle(Duration::ZERO, Event::Startup);
    assert_eq!(plain.state(), State::Backup);
}

#[test]
fn master_down_timer_makes_a_backup_master_exactly_at_the_deadline() {
    let mut instance = started(config(100));
    let deadline = instance.next_deadline().unwrap();
    assert!(
        instance
            .handle(deadline - Duration::from_micros(1), Event::Timeout)
            .is_empty()
    );
    assert_eq!(
        instance.handle(deadline, Event::Timeout),
        becomes_master(State::Backup, Reason::MasterDown, 100)
    );
    assert_eq!(instance.next_deadline(), Some(deadline + ms(1000)));
}

#[test]
fn backup_hearing_a_higher_master_resets_its_timer() {
    let mut instance = started(config(100));
    replay(&mut instance, vec![(1000, advert(20, 200, 100), vec![])]);
    assert_eq!(
        instance.next_deadline(),
        Some(ms(1000) + Duration::from_micros(3_609_375))
    );
    let seen = instance.master().unwrap();
    assert_eq!(
        (seen.address, seen.priority, seen.at),
        (addr(20), 200, ms(1000))
    );
}

#[test]
fn v3_backup_learns_the_master_interval() {
    let mut instance = started(config(100));
    instance.handle(ms(500), advert(20, 200, 50));
    assert_eq!(instance.master_interval_cs(), 50);
    let expected = 3 * ms(500) + Duration::from_micros(156 * 500_000 / 256);
    assert_eq!(instance.next_deadline(), Some(ms(500) + expected));
}

#[test]
fn v2_advert_with_another_interval_is_discarded() {
    let mut instance = started(Config::new(Version::V2, 100, 100, addr(10)));
    let before = instance.next_deadline();
    replay(&mut instance, vec![(500, advert(20, 200, 300), vec![])]);
    assert_eq!(instance.next_deadline(), before);
    assert_eq!(instance.stats().interval_mismatch, 1);
    assert_eq!(instance.master_interval_cs(), 100);
}

#[test]
fn priority_zero_shortens_the_wait_to_skew_time() {
    let mut instance = started(config(100));
    instance.handle(ms(1000), advert(20, 200, 100));
    instance.handle(ms(1500), advert(20, 0, 100));
    let skew = timers::skew_time(Version::V3, 100, 100);
    assert_eq!(instance.next_deadline(), Some(ms(1500) + skew));
    assert_eq!(
        instance.handle(ms(1500) + skew, Event::Timeout),
        becomes_master(
            State::Backup,
            Reason::MasterResigned { from: addr(20) },
            100
        )
    );
}

#[test]
fn preempting_backup_discards_lower_adverts_and_takes_over() {
    let mut instance = started(config(200));
    instance.handle(ms(100), advert(20, 100, 100));
    instance.handle(ms(1100), advert(20, 100, 100));
    // Lower-priority adverts did not reset the timer armed at start-up.
    let deadline = instance.next_deadline().unwrap();
    assert_eq!(
        deadline,
        timers::master_down_interval(Version::V3, 200, 100)
    );
    assert_eq!(
        instance.handle(deadline, Event::Timeout),
        becomes_master(
            State::Backup,
            Reason::Preempting {
                over: addr(20),
                priority: 100
            },
            200
        )
    );
}

#[test]
fn nopreempt_backup_keeps_a_lower_master() {
    let mut cfg = config(200);
    cfg.preempt = false;
    let mut instance = started(cfg);
    for second in 0..20 {
        let now = ms(100 + second * 1000);
        assert!(instance.handle(now, advert(20, 100, 100)).is_empty());
        assert!(instance.handle(now, Event::Timeout).is_empty());
    }
    assert_eq!(instance.state(), State::Backup);
}

#[test]
fn address_owner_preempts_even_with_nopreempt() {
    let mut cfg = config(255);
    cfg.preempt = false;
    let mut instance = Instance::new(cfg);
    instance.handle(ms(0), Event::Fault);
    instance.handle(ms(0), Event::Startup);
    instance.handle(ms(0), Event::FaultCleared);
    assert_eq!(
        instance.state(),
        State::Master,
        "the owner goes straight to master"
    );
}

#[test]
fn preempt_delay_holds_back_preemption() {
    let mut cfg = config(200);
    cfg.preempt_delay = ms(5000);
    let mut instance = started(cfg);
    let mdi = instance.master_down_interval();
    // Lower adverts every second: accepted for 5 s, discarded afterwards.
    let mut last_accepted = Duration::ZERO;
    for second in 0..12 {
        let now = ms(100 + second * 1000);
        if instance.next_deadline().is_some_and(|d| d <= now) {
            break;
        }
        let before = instance.next_deadline();
        instance.handle(now, advert(20, 100, 100));
        if instance.next_deadline() != before {
            last_accepted = now;
        }
    }
    // First lower advert at 0.1 s: accepted until 5 s have passed since then.
    assert_eq!(last_accepted, ms(4100), "accepted while within the delay");
    let deadline = instance.next_deadline().unwrap();
    assert_eq!(deadline, last_accepted + mdi);
    instance.handle(deadline, Event::Timeout);
    assert_eq!(instance.state(), State::Master);
}

#[test]
fn master_sends_adverts_on_its_timer() {
    let (mut instance, at) = master(config(100));
    let next = at + ms(1000);
    assert_eq!(instance.next_deadline(), Some(next));
    assert_eq!(
        instance.handle(next, Event::Timeout),
        vec![Action::SendAdvert { priority: 100 }]
    );
    assert_eq!(instance.next_deadline(), Some(next + ms(1000)));
}

#[test]
fn late_timeout_sends_one_advert_and_rearms_from_now() {
    let (mut instance, at) = master(config(100));
    let late = at + ms(10_000);
    assert_eq!(
        instance.handle(late, Event::Timeout),
        vec![Action::SendAdvert { priority: 100 }]
    );
    assert_eq!(instance.next_deadline(), Some(late + ms(1000)));
}

#[test]
fn master_yields_to_a_higher_priority_with_a_last_advert_not_priority_zero() {
    let (mut instance, _) = master(config(100));
    replay(
        &mut instance,
        vec![(
            5000,
            advert(20, 150, 200),
            vec![
                transition(
                    State::Master,
                    State::Backup,
                    Reason::Preempted {
                        from: addr(20),
                        priority: 150,
                    },
                ),
                // Not priority 0 (that would start an election among other backups), but
                // one advert at its own priority, so that the better master learns of the
                // split brain even if it never heard this one, and re-announces.
                Action::SendAdvert { priority: 100 },
                Action::RemoveAddresses,
            ],
        )],
    );
    // RFC 5798 6.4.3: learns the new master's interval (2 s).
    assert_eq!(instance.master_interval_cs(), 200);
    assert_eq!(
        instance.next_deadline(),
        Some(ms(5000) + timers::master_down_interval(Version::V3, 100, 200))
    );
}

#[test]
fn equal_priority_is_broken_by_the_higher_primary_address() {
    let (mut instance, _) = master(config(100));
    // 192.0.2.9 < 192.0.2.10: we stay master and answer.
    assert_eq!(
        instance.handle(ms(5000), advert(9, 100, 100)),
        vec![
            Action::SendAdvert { priority: 100 },
            split_brain(9, 100),
            Action::AnnounceAgain
        ]
    );
    assert_eq!(instance.state(), State::Master);
    // 192.0.2.11 > 192.0.2.10: we yield.
    instance.handle(ms(5100), advert(11, 100, 100));
    assert_eq!(instance.state(), State::Backup);
}

#[test]
fn master_answers_a_lower_master_at_once_and_reannounces() {
    let (mut instance, _) = master(config(200));
    replay(
        &mut instance,
        vec![(
            5000,
            advert(20, 100, 100),
            vec![
                Action::SendAdvert { priority: 200 },
                split_brain(20, 100),
                Action::AnnounceAgain,
            ],
        )],
    );
    assert_eq!(instance.next_deadline(), Some(ms(6000)));
    assert_eq!(instance.stats().lower_priority_master, 1);
    assert_eq!(instance.lower_master().unwrap().address, addr(20));
}

#[test]
fn master_announces_again_when_a_lower_master_goes_quiet() {
    // Not in RFC 5798: the other master's gratuitous ARPs may have pulled clients away
    // during the split brain; when it has been quiet for Master_Down_Interval (it yielded,
    // or the partition ended), the addresses are announced once more.
    let (mut instance, _) = master(config(200));
    replay(
        &mut instance,
        vec![
            (
                5000,
                advert(20, 100, 100),
                vec![
                    Action::SendAdvert { priority: 200 },
                    split_brain(20, 100),
                    Action::AnnounceAgain,
                ],
            ),
            (5500, advert(20, 100, 100), vec![]),
        ],
    );
    let ends = ms(5500) + timers::master_down_interval(Version::V3, 200, 100);
    let mut next = instance.next_deadline().unwrap();
    while next < ends {
        assert_eq!(
            instance.handle(next, Event::Timeout),
            vec![Action::SendAdvert { priority: 200 }],
            "at {next:?}"
        );
        next = instance.next_deadline().unwrap();
    }
    assert_eq!(next, ends);
    assert_eq!(
        instance.handle(ends, Event::Timeout),
        vec![Action::AnnounceAgain]
    );
    let after = instance.next_deadline().unwrap();
    assert!(after > ends);
    assert_eq!(
        instance.handle(after, Event::Timeout),
        vec![Action::SendAdvert { priority: 200 }]
    );
}

#[test]
fn the_last_advert_of_the_master_it_displaced_is_no_split_brain() {
    // After preempting b, b's adverts for one Master_Down_Interval (one sent before it
    // heard us, and its last as it yields, see
    // master_yields_to_a_higher_priority_with_a_last_advert_not_priority_zero) are
    // expected: no answer, no announcement, no split-brain record. Later, they are one.
    let mut instance = started(config(200));
    assert_eq!(instance.handle(ms(100), advert(20, 100, 100)), vec![]);
    let at = instance.next_deadline().unwrap();
    instance.handle(at, Event::Timeout);
    assert_eq!(instance.state(), State::Master);
    assert_eq!(instance.handle(at + ms(1), advert(20, 100, 100)), vec![]);
    assert_eq!(instance.handle(at + ms(2), advert(20, 100, 100)), vec![]);
    assert_eq!(instance.stats().lower_priority_master, 0);
    assert_eq!(instance.lower_master(), None);
    let window = timers::master_down_interval(Version::V3, 200, 100);
    assert_eq!(
        instance.handle(at + window, advert(20, 100, 100)),
        vec![
            Action::SendAdvert { priority: 200 },
            split_brain(20, 100),
            Action::AnnounceAgain
        ]
    );
    assert_eq!(instance.stats().lower_priority_master, 1);
}

#[test]
fn master_hearing_priority_zero_advertises_at_once() {
    let (mut instance, _) = master(config(200));
    replay(
        &mut instance,
        vec![(
            5000,
            advert(20, 0, 100),
            vec![Action::SendAdvert { priority: 200 }],
        )],
    );
    assert_eq!(instance.next_deadline(), Some(ms(6000)));
}

#[test]
fn shutdown_of_a_master_sends_priority_zero_and_removes_addresses() {
    let (mut instance, _) = master(config(100));
    replay(
        &mut instance,
        vec![(
            5000,
            Event::Shutdown,
            vec![
                transition(State::Master, State::Initialize, Reason::Shutdown),
                Action::SendAdvert { priority: 0 },
                Action::RemoveAddresses,
            ],
        )],
    );
    assert_eq!(instance.next_deadline(), None);
    assert_eq!(instance.stats().priority_zero_sent, 1);
}

#[test]
fn shutdown_of_a_backup_only_transitions() {
    let mut instance = started(config(100));
    replay(
        &mut instance,
        vec![(
            10,
            Event::Shutdown,
            vec![transition(
                State::Backup,
                State::Initialize,
                Reason::Shutdown,
            )],
        )],
    );
    assert_eq!(instance.next_deadline(), None);
}

#[test]
fn fault_takes_a_master_out_and_clearing_it_returns_to_backup() {
    let (mut instance, _) = master(config(100));
    replay(
        &mut instance,
        vec![
            (
                5000,
                Event::Fault,
                vec![
                    transition(State::Master, State::Fault, Reason::Fault),
                    Action::SendAdvert { priority: 0 },
                    Action::RemoveAddresses,
                ],
            ),
            (5500, advert(20, 50, 100), vec![]),
            (6000, Event::Timeout, vec![]),
            (
                7000,
                Event::FaultCleared,
                vec![transition(
                    State::Fault,
                    State::Backup,
                    Reason::FaultCleared,
                )],
            ),
        ],
    );
    assert_eq!(
        instance.next_deadline(),
        Some(ms(7000) + instance.master_down_interval())
    );
}

#[test]
fn fault_before_startup_starts_in_fault() {
    let mut instance = Instance::new(config(100));
    replay(
        &mut instance,
        vec![
            (0, Event::Fault, vec![]),
            (
                0,
                Event::Startup,
                vec![transition(State::Initialize, State::Fault, Reason::Fault)],
            ),
        ],
    );
    assert_eq!(instance.next_deadline(), None);
}

#[test]
fn resign_hands_over_and_holds_back_preemption() {
    let (mut instance, _) = master(config(200));
    replay(
        &mut instance,
        vec![
            (
                5000,
                Event::Resign { hold: ms(30_000) },
                vec![
                    transition(State::Master, State::Backup, Reason::Resigned),
                    Action::SendAdvert { priority: 0 },
                    Action::RemoveAddresses,
                ],
            ),
            // A lower-priority master takes over; we accept it during the hold.
            (5500, advert(20, 100, 100), vec![]),
        ],
    );
    // Lower adverts every second are accepted until the hold ends at 35 s...
    for second in 6..=34 {
        instance.handle(ms(second * 1000 + 500), advert(20, 100, 100));
    }
    let mdi = instance.master_down_interval();
    assert_eq!(instance.next_deadline(), Some(ms(34_500) + mdi));
    // ...and discarded afterwards: preemption resumes.
    instance.handle(ms(35_500), advert(20, 100, 100));
    assert_eq!(instance.next_deadline(), Some(ms(34_500) + mdi));
    instance.handle(ms(34_500) + mdi, Event::Timeout);
    assert_eq!(instance.state(), State::Master);
}

#[test]
fn resign_when_nobody_takes_over_becomes_master_again() {
    let (mut instance, _) = master(config(200));
    instance.handle(ms(5000), Event::Resign { hold: ms(60_000) });
    let deadline = instance.next_deadline().unwrap();
    assert_eq!(deadline, ms(5000) + instance.master_down_interval());
    instance.handle(deadline, Event::Timeout);
    assert_eq!(
        instance.state(),
        State::Master,
        "the VIP is never left unowned"
    );
}

#[test]
fn resign_is_refused_unless_master() {
    let mut instance = started(config(100));
    replay(
        &mut instance,
        vec![(
            5,
            Event::Resign { hold: ms(1000) },
            vec![Action::Refuse(Refusal::NotMaster)],
        )],
    );
}

#[test]
fn fallback_takes_the_vip_back_from_a_lower_master() {
    let mut cfg = config(200);
    cfg.preempt = false;
    let mut instance = started(cfg);
    instance.handle(ms(1000), advert(20, 100, 100));
    replay(
        &mut instance,
        vec![(
            1100,
            Event::Fallback,
            becomes_master(State::Backup, Reason::Fallback, 200),
        )],
    );
}

#[test]
fn fallback_is_refused_when_this_node_does_not_outrank_the_master() {
    let mut cfg = config(100);
    cfg.preempt = false;
    let mut instance = started(cfg);
    instance.handle(ms(1000), advert(20, 150, 100));
    replay(
        &mut instance,
        vec![(
            1100,
            Event::Fallback,
            vec![Action::Refuse(Refusal::DoesNotOutrank {
                master: addr(20),
                master_priority: 150,
                priority: 100,
            })],
        )],
    );
    // Equal priority: the higher address (ours is .10, the master .20) wins; refused.
    instance.handle(ms(1200), Event::SetPriority(150));
    assert!(matches!(
        instance.handle(ms(1300), Event::Fallback)[..],
        [Action::Refuse(Refusal::DoesNotOutrank { .. })]
    ));
    assert_eq!(instance.state(), State::Backup);
}

#[test]
fn fallback_is_refused_when_locked_in_fault_or_already_master() {
    let mut instance = started(config(200));
    instance.handle(ms(1), Event::Lock);
    assert_eq!(
        instance.handle(ms(2), Event::Fallback),
        vec![Action::Refuse(Refusal::Locked)]
    );
    instance.handle(ms(3), Event::Unlock);
    instance.handle(ms(4), Event::Fault);
    assert_eq!(
        instance.handle(ms(5), Event::Fallback),
        vec![Action::Refuse(Refusal::InFault)]
    );
    let (mut master, at) = master(config(200));
    assert_eq!(
        master.handle(at, Event::Fallback),
        vec![Action::Refuse(Refusal::AlreadyMaster)]
    );
    let mut idle = Instance::new(config(200));
    assert_eq!(
        idle.handle(ms(0), Event::Fallback),
        vec![Action::Refuse(Refusal::NotRunning)]
    );
}

#[test]
fn lock_hands_over_and_keeps_the_node_backup_until_unlocked() {
    let (mut instance, _) = master(config(200));
    replay(
        &mut instance,
        vec![(
            5000,
            Event::Lock,
            vec![
                transition(State::Master, State::Backup, Reason::Locked),
                Action::SendAdvert { priority: 0 },
                Action::RemoveAddresses,
            ],
        )],
    );
    assert!(instance.locked());
    assert_eq!(
        instance.next_deadline(),
        None,
        "a locked backup never times out"
    );
    assert!(instance.handle(ms(60_000), Event::Timeout).is_empty());
    instance.handle(ms(60_000), Event::Unlock);
    assert_eq!(
        instance.next_deadline(),
        Some(ms(60_000) + instance.master_down_interval())
    );
}

#[test]
fn a_locked_address_owner_starts_as_backup() {
    let mut instance = Instance::new(config(255));
    instance.handle(ms(0), Event::Lock);
    replay(
        &mut instance,
        vec![(
            0,
            Event::Startup,
            vec![transition(
                State::Initialize,
                State::Backup,
                Reason::Startup,
            )],
        )],
    );
    assert_eq!(instance.next_deadline(), None);
}

#[test]
fn fallback_gate_is_checked_before_automatic_preemption() {
    let mut cfg = config(200);
    cfg.fallback_gate = true;
    cfg.fallback_check_interval = ms(2000);
    let mut instance = started(cfg);
    let mdi = instance.master_down_interval();
    replay(
        &mut instance,
        vec![
            (1000, advert(20, 100, 100), vec![Action::RunFallbackCheck]),
            // Not passed yet: the lower master is accepted, no second check within 2 s.
            (2000, advert(20, 100, 100), vec![]),
            (2100, Event::FallbackCheck { passed: false }, vec![]),
            (3000, advert(20, 100, 100), vec![]),
            (4100, advert(20, 100, 100), vec![Action::RunFallbackCheck]),
            (4200, Event::FallbackCheck { passed: true }, vec![]),
            (5000, advert(20, 100, 100), vec![]),
        ],
    );
    // The advert at 5 s was discarded: the deadline still counts from 4.1 s.
    let deadline = instance.next_deadline().unwrap();
    assert_eq!(deadline, ms(4100) + mdi);
    instance.handle(deadline, Event::Timeout);
    assert_eq!(instance.state(), State::Master);
}

#[test]
fn flap_hold_down_delays_preemption_after_losing_master() {
    let mut cfg = config(200);
    cfg.hold_down = ms(60_000);
    let (mut instance, _) = master(cfg);
    instance.handle(ms(5000), advert(20, 250, 100));
    assert_eq!(instance.state(), State::Backup);
    // The other node drops to a lower priority: within the hold-down (until 65 s) its
    // adverts are accepted, afterwards discarded.
    for second in 6..=64 {
        instance.handle(ms(second * 1000), advert(20, 100, 100));
    }
    let mdi = instance.master_down_interval();
    assert_eq!(instance.next_deadline(), Some(ms(64_000) + mdi));
    instance.handle(ms(65_000), advert(20, 100, 100));
    assert_eq!(
        instance.next_deadline(),
        Some(ms(64_000) + mdi),
        "discarded after the hold-down"
    );
}

#[test]
fn accept_mode_decides_whether_the_master_takes_vip_traffic() {
    let mut cfg = config(100);
    cfg.accept_mode = false;
    let (instance, _) = master(cfg.clone());
    assert!(!instance.accepts_vip_traffic());
    cfg.accept_mode = true;
    let (instance, _) = master(cfg);
    assert!(instance.accepts_vip_traffic());
    let mut owner = Instance::new({
        let mut c = config(255);
        c.accept_mode = false;
        c
    });
    owner.handle(ms(0), Event::Startup);
    assert!(owner.accepts_vip_traffic(), "the owner always accepts");
}

#[test]
fn tracked_priority_is_advertised_and_can_lose_the_election() {
    let (mut instance, at) = master(config(200));
    instance.handle(at, Event::SetPriority(90));
    let next = instance.next_deadline().unwrap();
    assert_eq!(
        instance.handle(next, Event::Timeout),
        vec![Action::SendAdvert { priority: 90 }]
    );
    instance.handle(next + ms(10), advert(20, 100, 100));
    assert_eq!(instance.state(), State::Backup);
}

#[test]
fn events_out_of_place_change_nothing() {
    let mut instance = Instance::new(config(100));
    for event in [
        Event::Timeout,
        advert(20, 200, 100),
        Event::Shutdown,
        Event::FaultCleared,
        Event::Unlock,
    ] {
        assert!(instance.handle(ms(1), event).is_empty());
    }
    assert_eq!(instance.state(), State::Initialize);
    assert_eq!(instance.next_deadline(), None);
}

#[test]
fn reconfigure_keeps_the_state_and_takes_the_new_priority() {
    let (mut instance, at) = master(config(100));
    let mut cfg = config(180);
    cfg.interval_cs = 50;
    assert!(instance.reconfigure(at, cfg).is_empty());
    assert_eq!(instance.state(), State::Master, "no transition on reload");
    let next = instance.next_deadline().unwrap();
    assert_eq!(next, at + ms(1000), "the running timer is kept");
    assert_eq!(
        instance.handle(next, Event::Timeout),
        vec![Action::SendAdvert { priority: 180 }]
    );
    assert_eq!(
        instance.next_deadline(),
        Some(next + ms(500)),
        "new interval from now on"
    );
}

#[test]
fn a_slightly_late_timer_keeps_the_advert_cadence() {
    let (mut instance, at) = master(config(100));
    let deadline = at + ms(1000);
    // Delivered 3 ms late: the next advert is still due one interval after the deadline.
    instance.handle(deadline + ms(3), Event::Timeout);
    assert_eq!(instance.next_deadline(), Some(deadline + ms(1000)));
}

#[test]
fn sync_group_master_takes_a_backup_member_along_but_not_a_locked_one() {
    let mut instance = started(config(100));
    replay(
        &mut instance,
        vec![(
            50,
            Event::GroupMaster,
            becomes_master(State::Backup, Reason::SyncGroup, 100),
        )],
    );
    let mut locked = started(config(100));
    locked.handle(ms(10), Event::Lock);
    replay(&mut locked, vec![(50, Event::GroupMaster, vec![])]);
    assert_eq!(locked.state(), State::Backup);
}

#[test]
fn sync_group_backup_makes_a_master_member_resign_with_priority_zero() {
    let (mut instance, at) = master(config(100));
    let at = at.as_millis() as u64 + 10;
    replay(
        &mut instance,
        vec![
            (
                at,
                Event::GroupBackup,
                vec![
                    transition(State::Master, State::Backup, Reason::SyncGroup),
                    Action::SendAdvert { priority: 0 },
                    Action::RemoveAddresses,
                ],
            ),
            // Already backup: nothing more.
            (at + 1, Event::GroupBackup, vec![]),
        ],
    );
}

#[test]
fn hold_backup_stops_preemption_but_not_a_takeover_when_no_master_is_heard() {
    let mut instance = started(config(200));
    replay(
        &mut instance,
        vec![
            (10, Event::HoldBackup { hold: ms(60_000) }, vec![]),
            // A lower-priority master is not preempted while held...
            (20, advert(20, 100, 100), vec![]),
        ],
    );
    assert_eq!(instance.state(), State::Backup);
    // ...but when no master is heard, this router still takes over (availability first).
    let deadline = instance.next_deadline().expect("master down timer");
    assert_eq!(
        deadline,
        ms(20) + instance.master_down_interval(),
        "the held router accepted the lower master"
    );
    let got = instance.handle(deadline, Event::Timeout);
    assert_eq!(
        got[0],
        transition(State::Backup, State::Master, Reason::MasterDown)
    );
}

#[test]
fn a_flood_of_lower_priority_adverts_gets_one_answer_per_interval() {
    let (mut instance, at) = master(config(200));
    let t = at.as_millis() as u64 + 10;
    let answer = || vec![Action::SendAdvert { priority: 200 }];
    let mut first = answer();
    first.push(split_brain(20, 100));
    first.push(Action::AnnounceAgain);
    replay(
        &mut instance,
        vec![
            // A split brain: answer at once and announce the addresses.
            (t, advert(20, 100, 100), first.clone()),
            // More within the same interval: counted, not answered.
            (t + 10, advert(20, 100, 100), vec![]),
            (t + 500, advert(20, 100, 100), vec![]),
            // One interval later: answered again, but no new announcement.
            (t + 1000, advert(20, 100, 100), answer()),
            // Heard again after a silence longer than Master_Down_Interval: a new split
            // brain, announced again.
            (t + 6000, advert(20, 100, 100), first),
        ],
    );
    assert_eq!(instance.stats().lower_priority_master, 5);
}

/// The core's report of a new split brain with the master at 192.0.2.`host`.
fn split_brain(host: u8, priority: u8) -> Action {
    Action::SplitBrain {
        from: addr(host),
        priority,
    }
}

// ---- The witness lease (baton extension) ----

fn with_witness(priority: u8, policy: baton::vrrp::WhenUnreachable) -> Config {
    let mut cfg = config(priority);
    cfg.witness = Some(baton::vrrp::WitnessRule {
        when_unreachable: policy,
        lease_ttl: ms(3000),
    });
    cfg
}

fn held(until: u64) -> Event {
    Event::Lease(baton::vrrp::Lease::Held { until: ms(until) })
}

/// Just past Master_Down_Interval (3.609375 s) of a priority-100 VRRPv3 router with a 1 s
/// interval.
const DOWN: u64 = 3610;

#[test]
fn with_a_witness_master_down_asks_for_the_lease_and_takes_over_once_granted() {
    use baton::vrrp::WhenUnreachable::Release;
    let mut instance = started(with_witness(100, Release));
    let holder = Event::Lease(baton::vrrp::Lease::HeldBy {
        holder: "node2".into(),
    });
    replay(
        &mut instance,
        vec![
            (DOWN, Event::Timeout, vec![Action::WantLease]),
            (DOWN + 5, holder, vec![]),
            (
                DOWN + 60,
                Event::Lease(baton::vrrp::Lease::Unreachable),
                vec![],
            ),
            (
                DOWN + 100,
                held(DOWN + 2500),
                becomes_master(State::Backup, Reason::MasterDown, 100),
            ),
        ],
    );
    assert_eq!(instance.pending_takeover(), None);
}

#[test]
fn a_master_lets_go_when_its_lease_runs_out_and_gives_it_up_after_the_addresses() {
    use baton::vrrp::WhenUnreachable::Release;
    let mut instance = started(with_witness(100, Release));
    instance.handle(ms(DOWN), Event::Timeout);
    instance.handle(ms(DOWN + 1), held(DOWN + 2000));
    assert_eq!(instance.state(), State::Master);
    // Renewed once; then the witness stops answering.
    instance.handle(ms(DOWN + 900), held(DOWN + 2900));
    instance.handle(
        ms(DOWN + 1900),
        Event::Lease(baton::vrrp::Lease::Unreachable),
    );
    let mut now = ms(DOWN + 1900);
    // Adverts continue until the deadline.
    while let Some(at) = instance.next_deadline().filter(|&t| t < ms(DOWN + 2900)) {
        now = at;
        assert_eq!(
            instance.handle(at, Event::Timeout),
            vec![Action::SendAdvert { priority: 100 }]
        );
    }
    assert!(now < ms(DOWN + 2900));
    assert_eq!(
        instance.handle(ms(DOWN + 2900), Event::Timeout),
        vec![
            transition(State::Master, State::Backup, Reason::LeaseLost),
            Action::SendAdvert { priority: 0 },
            Action::RemoveAddresses,
            Action::DropLease,
        ]
    );
}

#[test]
fn a_master_told_another_node_holds_the_lease_lets_go_at_once_whatever_the_policy() {
    for policy in [
        baton::vrrp::WhenUnreachable::Release,
        baton::vrrp::WhenUnreachable::Keep,
        baton::vrrp::WhenUnreachable::Takeover,
    ] {
        let mut instance = started(with_witness(100, policy));
        instance.handle(ms(DOWN), Event::Timeout);
        instance.handle(ms(DOWN + 1), held(DOWN + 2000));
        let other = Event::Lease(baton::vrrp::Lease::HeldBy {
            holder: "node2".into(),
        });
        assert_eq!(
            instance.handle(ms(DOWN + 500), other)[0],
            transition(State::Master, State::Backup, Reason::LeaseLost),
            "{policy:?}"
        );
    }
}

#[test]
fn keep_lets_a_master_hold_on_while_the_witness_is_down_but_no_backup_takes_over() {
    use baton::vrrp::WhenUnreachable::Keep;
    let mut master = started(with_witness(100, Keep));
    master.handle(ms(DOWN), Event::Timeout);
    master.handle(ms(DOWN + 1), held(DOWN + 2000));
    master.handle(
        ms(DOWN + 900),
        Event::Lease(baton::vrrp::Lease::Unreachable),
    );
    master.handle(ms(DOWN + 60_000), Event::Timeout);
    assert_eq!(master.state(), State::Master, "keep: still master");
    let mut backup = started(with_witness(100, Keep));
    backup.handle(ms(DOWN), Event::Timeout);
    backup.handle(ms(DOWN + 1), Event::Lease(baton::vrrp::Lease::Unreachable));
    assert_eq!(
        backup.state(),
        State::Backup,
        "keep: no takeover without the lease"
    );
    let mut lone = started(with_witness(100, baton::vrrp::WhenUnreachable::Takeover));
    lone.handle(ms(DOWN), Event::Timeout);
    lone.handle(ms(DOWN + 1), Event::Lease(baton::vrrp::Lease::Unreachable));
    assert_eq!(
        lone.state(),
        State::Master,
        "takeover: plain VRRP without the witness"
    );
}

#[test]
fn hearing_a_master_while_waiting_for_the_lease_cancels_the_takeover() {
    use baton::vrrp::WhenUnreachable::Release;
    let mut instance = started(with_witness(100, Release));
    replay(
        &mut instance,
        vec![
            (DOWN, Event::Timeout, vec![Action::WantLease]),
            (DOWN + 10, advert(20, 150, 100), vec![Action::DropLease]),
            // A grant that crossed the drop is ignored.
            (DOWN + 20, held(DOWN + 2000), vec![]),
        ],
    );
    assert_eq!(instance.state(), State::Backup);
    assert_eq!(instance.pending_takeover(), None);
}

#[test]
fn a_waiting_backup_that_outranks_the_lease_holder_claims_it_each_interval() {
    use baton::vrrp::WhenUnreachable::Release;
    let mut instance = started(with_witness(200, Release));
    // A lower-priority master is heard and discarded (preempt): Master_Down_Timer runs out.
    instance.handle(ms(100), advert(20, 100, 100));
    let down = instance.next_deadline().unwrap();
    assert_eq!(
        instance.handle(down, Event::Timeout),
        vec![Action::WantLease]
    );
    let other = Event::Lease(baton::vrrp::Lease::HeldBy {
        holder: "node2".into(),
    });
    assert_eq!(
        instance.handle(down + ms(5), other),
        vec![Action::SendAdvert { priority: 200 }],
        "a claim: the master yields to it (RFC 5798 6.4.3)"
    );
    assert_eq!(instance.next_deadline(), Some(down + ms(1005)));
    assert_eq!(
        instance.handle(down + ms(1005), Event::Timeout),
        vec![Action::SendAdvert { priority: 200 }]
    );
    assert_eq!(
        instance.state(),
        State::Backup,
        "claims do not take the addresses"
    );
}

#[test]
fn a_reload_that_adds_a_witness_to_a_master_asks_for_the_lease_without_a_transition() {
    let (mut instance, at) = master(config(100));
    let actions =
        instance.reconfigure(at, with_witness(100, baton::vrrp::WhenUnreachable::Release));
    assert_eq!(actions, vec![Action::WantLease]);
    assert_eq!(instance.state(), State::Master);
    assert_eq!(
        instance.lease_until(),
        Some(at + ms(3000)),
        "one lease time to get it"
    );
    // And removing it again: nothing to do, still master, no lease deadline.
    let actions = instance.reconfigure(at + ms(10), config(100));
    assert!(actions.is_empty(), "{actions:?}");
    assert_eq!(instance.state(), State::Master);
    assert_eq!(instance.next_deadline(), Some(at + ms(1000)));
}

#[test]
fn a_backup_that_lost_its_master_does_not_claim_the_lease_from_it() {
    use baton::vrrp::WhenUnreachable::Release;
    // fallback manual (Preempt_Mode off): a lower-priority master is accepted; when it is
    // no longer heard, Master_Down_Timer fires and the lease is asked for, but a master
    // this router does not hear (and must not preempt) is never sent a claim.
    let mut cfg = with_witness(200, Release);
    cfg.preempt = false;
    let mut instance = started(cfg);
    instance.handle(ms(100), advert(20, 100, 100));
    let down = instance.next_deadline().unwrap();
    assert_eq!(
        instance.handle(down, Event::Timeout),
        vec![Action::WantLease]
    );
    let other = Event::Lease(baton::vrrp::Lease::HeldBy {
        holder: "node2".into(),
    });
    assert_eq!(instance.handle(down + ms(5), other), vec![]);
    assert_eq!(instance.next_deadline(), None, "no claim timer");
    assert_eq!(
        instance.pending_takeover(),
        Some(Reason::MasterDown),
        "it waits for the lease"
    );
}

#[test]
fn lower_prio_no_advert_keeps_a_master_silent_to_a_lower_priority() {
    let mut cfg = config(200);
    cfg.answer_lower = false;
    let (mut instance, at) = master(cfg);
    let got = instance.handle(at + ms(10), advert(20, 100, 100));
    assert!(
        !got.iter().any(|a| matches!(a, Action::SendAdvert { .. })),
        "no answer: {got:?}"
    );
    assert_eq!(instance.state(), State::Master);
    assert_eq!(instance.stats().lower_priority_master, 1, "still counted");
}

#[test]
fn without_higher_prio_send_advert_a_master_yields_silently() {
    for (send, expected) in [
        (true, vec![Action::SendAdvert { priority: 100 }]),
        (false, vec![]),
    ] {
        let mut cfg = config(100);
        cfg.advert_before_yield = send;
        let (mut instance, at) = master(cfg);
        let got = instance.handle(at + ms(10), advert(20, 200, 100));
        let adverts: Vec<Action> = got
            .into_iter()
            .filter(|a| matches!(a, Action::SendAdvert { .. }))
            .collect();
        assert_eq!(adverts, expected, "higher_prio_send_advert {send}");
        assert_eq!(instance.state(), State::Backup);
    }
}
