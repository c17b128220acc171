//! A deterministic simulator: VRRP instances on a fake LAN with virtual time, delay, loss
//! and partitions. Everything is driven by one seeded RNG, so a failing seed replays exactly.

#![allow(dead_code)]

pub mod witness;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use baton::vrrp::{Action, Advert, Config, Event, Instance, Lease, Reason, State, timers};
use baton::wire::vrrp::Version;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The address of node `i`: 192.0.2.(i + 1).
pub fn node_address(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, i as u8 + 1))
}

/// One transition, as the simulator saw it.
#[derive(Clone, Debug)]
pub struct Transition {
    pub at: Duration,
    pub node: usize,
    pub from: State,
    pub to: State,
    pub reason: Reason,
    /// The deadline this takeover should have happened at, computed by the simulator from
    /// what the node heard (only for timer-driven takeovers it can predict).
    pub expected_at: Option<Duration>,
}

/// What the simulator remembers about what a node heard, to predict its timers
/// independently of the state machine.
#[derive(Clone, Copy, Debug, Default)]
struct Ear {
    /// When the node last entered Backup, and with which Master_Adver_Interval.
    entered_backup: Option<(Duration, u16)>,
    /// The last non-zero advert it accepted while Backup (one that resets its timer, RFC
    /// 5798 6.4.2: priority at least its own, or Preempt_Mode off): time, priority, interval.
    last_advert: Option<(Duration, u8, u16)>,
    /// The last priority-0 advert it heard while Backup.
    last_stop: Option<Duration>,
}

pub struct Node {
    pub instance: Instance,
    pub cfg: Config,
    /// False once crashed (kill -9): it neither sends nor hears.
    pub running: bool,
    /// Partition segment: packets only cross between nodes of the same segment.
    pub segment: usize,
    /// Addresses held (AddAddresses without a later RemoveAddresses).
    pub holds_vip: bool,
    /// When it last announced its addresses (gratuitous ARP / unsolicited NA).
    pub last_announce: Option<Duration>,
    /// Its clock's rate: its time is global time times this (1.0 but in witness scenarios).
    pub rate: f64,
    ear: Ear,
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct InFlight {
    at: Duration,
    seq: u64,
    to: usize,
    from: usize,
    priority: u8,
    interval_cs: u16,
}

pub struct Lan {
    pub now: Duration,
    pub nodes: Vec<Node>,
    pub rng: StdRng,
    /// Base one-way delay and added uniform jitter.
    pub delay: Duration,
    pub jitter: Duration,
    /// Probability that one delivery is lost.
    pub loss: f64,
    pub transitions: Vec<Transition>,
    pub adverts_delivered: u64,
    queue: BinaryHeap<Reverse<InFlight>>,
    seq: u64,
    /// The advert being delivered: (time, priority, interval).
    current_packet: Option<(Duration, u8, u16)>,
    /// The witness, in scenarios that have one.
    pub witness: Option<witness::Witness>,
    /// The first time two running nodes held the addresses at once, and which.
    pub two_holders: Option<(Duration, Vec<usize>)>,
}

impl Lan {
    pub fn new(seed: u64, configs: Vec<Config>) -> Lan {
        let nodes = configs
            .into_iter()
            .map(|cfg| Node {
                instance: Instance::new(cfg.clone()),
                cfg,
                running: false,
                segment: 0,
                holds_vip: false,
                last_announce: None,
                rate: 1.0,
                ear: Ear::default(),
            })
            .collect();
        Lan {
            now: Duration::ZERO,
            nodes,
            rng: StdRng::seed_from_u64(seed),
            delay: Duration::from_micros(100),
            jitter: Duration::ZERO,
            loss: 0.0,
            transitions: Vec::new(),
            adverts_delivered: 0,
            queue: BinaryHeap::new(),
            seq: 0,
            current_packet: None,
            witness: None,
            two_holders: None,
        }
    }

    /// Node `node`'s clock at global time `t`.
    pub fn local(&self, node: usize, t: Duration) -> Duration {
        let rate = self.nodes[node].rate;
        if rate == 1.0 { t } else { t.mul_f64(rate) }
    }

    /// The global time at which node `node`'s clock reads `local` (rounded up).
    fn global(&self, node: usize, local: Duration) -> Duration {
        let rate = self.nodes[node].rate;
        if rate == 1.0 {
            return local;
        }
        let mut t = local.div_f64(rate);
        while self.local(node, t) < local {
            t += Duration::from_nanos(1);
        }
        t
    }

    /// `n` VRRPv3 routers with the given priorities and interval, all preempting.
    pub fn v3(seed: u64, priorities: &[u8], interval_cs: u16) -> Lan {
        let configs = priorities
            .iter()
            .enumerate()
            .map(|(i, &p)| Config::new(Version::V3, p, interval_cs, node_address(i)))
            .collect();
        Lan::new(seed, configs)
    }

    pub fn start(&mut self, node: usize) {
        self.nodes[node].running = true;
        self.deliver_event(node, Event::Startup);
    }

    pub fn start_all(&mut self) {
        for i in 0..self.nodes.len() {
            self.start(i);
        }
    }

    /// kill -9: the node stops at once, without a priority-0 advert. Its addresses stay
    /// where they were (on a dead host, which no one can reach).
    pub fn crash(&mut self, node: usize) {
        if let Some(w) = self.witness.as_mut() {
            w.crash(node);
        }
        let n = &mut self.nodes[node];
        n.running = false;
        n.holds_vip = false;
        n.instance = Instance::new(n.cfg.clone());
        n.ear = Ear::default();
    }

    /// A graceful stop: the Shutdown event, then the process is gone.
    pub fn stop(&mut self, node: usize) {
        self.deliver_event(node, Event::Shutdown);
        self.crash(node);
    }

    pub fn restart(&mut self, node: usize) {
        self.crash(node);
        self.start(node);
    }

    pub fn event(&mut self, node: usize, event: Event) -> Vec<Action> {
        self.deliver_event(node, event)
    }

    /// Put each node in a segment; packets cross only within a segment.
    pub fn partition(&mut self, segments: &[usize]) {
        for (node, &segment) in self.nodes.iter_mut().zip(segments) {
            node.segment = segment;
        }
    }

    pub fn heal(&mut self) {
        for node in &mut self.nodes {
            node.segment = 0;
        }
    }

    /// Advance virtual time to `until`, processing deliveries and timers in time order.
    pub fn run_until(&mut self, until: Duration) {
        // Bounded: no scenario here needs more than this many steps.
        for _ in 0..10_000_000 {
            let Some(at) = self.next_event_time().filter(|&t| t <= until) else {
                self.now = until;
                return;
            };
            self.now = at;
            self.step();
            self.check_holders();
        }
        panic!("simulation did not reach {until:?}");
    }

    pub fn run_for(&mut self, span: Duration) {
        self.run_until(self.now + span);
    }

    fn next_event_time(&self) -> Option<Duration> {
        let packet = self.queue.peek().map(|Reverse(p)| p.at);
        let timer = (0..self.nodes.len())
            .filter(|&i| self.nodes[i].running)
            .filter_map(|i| Some(self.global(i, self.nodes[i].instance.next_deadline()?)))
            .min();
        let witness = self.witness.as_ref().and_then(|w| w.next_time());
        [packet, timer, witness].into_iter().flatten().min()
    }

    fn check_holders(&mut self) {
        let holders = self.vip_holders();
        if holders.len() > 1 && self.two_holders.is_none() {
            self.two_holders = Some((self.now, holders));
        }
    }

    /// Witness work due now: a request reaching the store, a reply reaching a node, or a
    /// client's next request. True if there was any.
    fn witness_step(&mut self) -> bool {
        let now = self.now;
        let Some(w) = self.witness.as_mut() else {
            return false;
        };
        let Some(due) = w.pop_due(now) else {
            return false;
        };
        match due {
            witness::Due::Op(op @ witness::Op::Arrive { .. }) => w.arrive(now, op),
            witness::Due::Op(witness::Op::Deliver {
                node,
                generation,
                reply,
            }) => {
                let told = w.deliver(now, node, generation, reply);
                self.tell(node, told);
            }
            witness::Due::Try(node) => {
                let local = self.local(node, now);
                let w = self.witness.as_mut().expect("checked");
                if let Some(request) = w.due_request(node) {
                    w.send(node, request, now, local);
                }
            }
        }
        true
    }

    fn tell(&mut self, node: usize, told: witness::Told) {
        let lease = match told {
            witness::Told::Nothing => return,
            witness::Told::Revoke(lease) => {
                let (now, local) = (self.now, self.local(node, self.now));
                if let Some(w) = self.witness.as_mut() {
                    w.send(node, witness::Request::Revoke(lease), now, local);
                }
                return;
            }
            witness::Told::Held(until) => Lease::Held { until },
            witness::Told::HeldBy(holder) => Lease::HeldBy {
                holder: format!("node{holder}"),
            },
            witness::Told::Unreachable => Lease::Unreachable,
        };
        if self.nodes[node].running {
            self.deliver_event(node, Event::Lease(lease));
        }
    }

    /// Packets due now are delivered before timers due now.
    fn step(&mut self) {
        if let Some(Reverse(p)) = self.queue.peek()
            && p.at <= self.now
        {
            let Reverse(p) = self.queue.pop().expect("peeked");
            self.deliver_packet(p);
            return;
        }
        if self.witness_step() {
            return;
        }
        let due = (0..self.nodes.len()).find(|&i| {
            self.nodes[i].running
                && self.nodes[i]
                    .instance
                    .next_deadline()
                    .is_some_and(|t| self.global(i, t) <= self.now)
        });
        if let Some(node) = due {
            self.deliver_event(node, Event::Timeout);
        }
    }

    fn deliver_packet(&mut self, p: InFlight) {
        let node = &self.nodes[p.to];
        // The partition is checked on arrival too: a packet in flight when the link is cut
        // is lost.
        if !node.running || node.segment != self.nodes[p.from].segment {
            return;
        }
        self.adverts_delivered += 1;
        let advert = Advert {
            src: node_address(p.from),
            priority: p.priority,
            interval_cs: p.interval_cs,
        };
        let now = self.now;
        let target = &mut self.nodes[p.to];
        let own = target.instance.priority();
        let accepts = p.priority >= own || (!target.cfg.preempt && own != 255);
        let ear = &mut target.ear;
        if target.instance.state() == State::Backup {
            if p.priority == 0 {
                ear.last_stop = Some(now);
            } else {
                if accepts {
                    ear.last_advert = Some((now, p.priority, p.interval_cs));
                }
                ear.last_stop = None;
            }
        }
        self.current_packet = Some((now, p.priority, p.interval_cs));
        self.deliver_event(p.to, Event::Advert(advert));
        self.current_packet = None;
    }

    fn deliver_event(&mut self, node: usize, event: Event) -> Vec<Action> {
        let now = self.local(node, self.now);
        let actions = self.nodes[node].instance.handle(now, event);
        for action in &actions {
            self.carry_out(node, action);
        }
        actions
    }

    fn carry_out(&mut self, node: usize, action: &Action) {
        match *action {
            Action::SendAdvert { priority } => self.broadcast(node, priority),
            Action::AddAddresses => self.nodes[node].holds_vip = true,
            Action::RemoveAddresses => self.nodes[node].holds_vip = false,
            Action::Transition { from, to, reason } => self.record(node, from, to, reason),
            Action::Announce | Action::AnnounceAgain => {
                self.nodes[node].last_announce = Some(self.now)
            }
            Action::RunFallbackCheck | Action::Refuse(_) | Action::SplitBrain { .. } => {}
            Action::WantLease => {
                let now = self.now;
                if let Some(w) = self.witness.as_mut() {
                    w.want(node, now);
                }
            }
            Action::DropLease => {
                let (now, local) = (self.now, self.local(node, self.now));
                if let Some(w) = self.witness.as_mut()
                    && let Some(lease) = w.drop_lease(node)
                {
                    w.send(node, witness::Request::Revoke(lease), now, local);
                }
            }
        }
    }

    fn record(&mut self, node: usize, from: State, to: State, reason: Reason) {
        let expected_at = self.predicted_takeover(node, from, to, reason);
        let n = &mut self.nodes[node];
        if to == State::Backup {
            // A master that yields learns the interval of the advert that beat it.
            let by_advert = matches!(reason, Reason::Preempted { .. });
            n.ear = Ear {
                entered_backup: Some((self.now, n.cfg.interval_cs)),
                last_advert: self.current_packet.filter(|_| by_advert),
                last_stop: None,
            };
        }
        self.transitions.push(Transition {
            at: self.now,
            node,
            from,
            to,
            reason,
            expected_at,
        });
    }

    /// When should this timer-driven takeover have happened, from what the node heard?
    /// RFC 5798 6.4.2: Master_Down_Interval after the last advert (or after entering
    /// Backup), or Skew_Time after a priority-0 advert.
    fn predicted_takeover(
        &self,
        node: usize,
        from: State,
        to: State,
        reason: Reason,
    ) -> Option<Duration> {
        if from != State::Backup || to != State::Master {
            return None;
        }
        let n = &self.nodes[node];
        let (version, priority) = (n.cfg.version, n.instance.priority());
        match reason {
            Reason::MasterDown => {
                let (entered, own_interval) = n.ear.entered_backup?;
                let (at, interval) = match n.ear.last_advert {
                    Some((at, _, interval)) if at >= entered => {
                        (at, learned(version, interval, own_interval))
                    }
                    _ => (entered, own_interval),
                };
                Some(at + timers::master_down_interval(version, priority, interval))
            }
            Reason::MasterResigned { .. } => {
                let stop = n.ear.last_stop?;
                let interval = match n.ear.last_advert {
                    Some((_, _, interval)) => learned(version, interval, n.cfg.interval_cs),
                    None => n.cfg.interval_cs,
                };
                Some(stop + timers::skew_time(version, priority, interval))
            }
            _ => None,
        }
    }

    fn broadcast(&mut self, from: usize, priority: u8) {
        let interval_cs = self.nodes[from].cfg.interval_cs;
        for to in 0..self.nodes.len() {
            if to == from || self.nodes[to].segment != self.nodes[from].segment {
                continue;
            }
            if self.loss > 0.0 && self.rng.random_bool(self.loss) {
                continue;
            }
            let jitter = if self.jitter.is_zero() {
                Duration::ZERO
            } else {
                Duration::from_micros(self.rng.random_range(0..=self.jitter.as_micros() as u64))
            };
            self.seq += 1;
            self.queue.push(Reverse(InFlight {
                at: self.now + self.delay + jitter,
                seq: self.seq,
                to,
                from,
                priority,
                interval_cs,
            }));
        }
    }

    pub fn state(&self, node: usize) -> State {
        self.nodes[node].instance.state()
    }

    /// Running nodes that are MASTER.
    pub fn masters(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].running && self.state(i) == State::Master)
            .collect()
    }

    /// Nodes holding the virtual addresses.
    pub fn vip_holders(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].running && self.nodes[i].holds_vip)
            .collect()
    }

    /// The running nodes of each segment that has any.
    pub fn segments(&self) -> Vec<Vec<usize>> {
        let mut ids: Vec<usize> = self.nodes.iter().map(|n| n.segment).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.into_iter()
            .map(|s| {
                (0..self.nodes.len())
                    .filter(|&i| self.nodes[i].running && self.nodes[i].segment == s)
                    .collect::<Vec<_>>()
            })
            .filter(|members| !members.is_empty())
            .collect()
    }

    /// The node that should win an election among `members`: highest priority, then
    /// highest primary address (RFC 5798 6.4.3).
    pub fn best_of(&self, members: &[usize]) -> Option<usize> {
        members
            .iter()
            .copied()
            .max_by_key(|&i| (self.nodes[i].instance.priority(), i))
    }

    /// The longest Master_Down_Interval of any node: a safe settling time unit.
    pub fn longest_master_down(&self) -> Duration {
        self.nodes
            .iter()
            .map(|n| timers::master_down_interval(n.cfg.version, 1, n.cfg.interval_cs.max(1)))
            .max()
            .unwrap_or_default()
    }
}

/// VRRPv3 learns the master's interval; VRRPv2 keeps its own (RFC 3768 7.1 drops others).
fn learned(version: Version, heard: u16, own: u16) -> u16 {
    match version {
        Version::V3 => heard,
        Version::V2 => own,
    }
}
