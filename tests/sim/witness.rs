//! The witness in the simulator: an etcd-like lease store with its own clock rate, reached
//! over a path with delay that can be cut per node, and one client per node that behaves
//! like `baton::witness` (acquire, renew every TTL/3, poll while another node holds the
//! key, revoke when dropped), all in virtual time.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::Duration;

use baton::witness::{POLL, RETRY, safe_hold};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Request {
    Acquire,
    KeepAlive(u64),
    Revoke(u64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reply {
    /// The key is the node's under `lease`; `sent` is the node's local time of the request.
    Granted {
        lease: u64,
        sent: Duration,
    },
    Renewed {
        sent: Duration,
    },
    Lost,
    HeldBy(usize),
    Unreachable,
    Revoked,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Op {
    /// A request reaches the store.
    Arrive {
        node: usize,
        generation: u64,
        request: Request,
        sent_global: Duration,
        sent_local: Duration,
    },
    /// A reply reaches the node.
    Deliver {
        node: usize,
        generation: u64,
        reply: Reply,
    },
}

#[derive(Clone, Debug, Default)]
pub struct Client {
    pub wanting: bool,
    pub held: Option<u64>,
    /// Global time of the next request, when none is in flight.
    pub next_try: Option<Duration>,
    pub in_flight: bool,
    /// Bumped when the node crashes: replies to the old process are dropped.
    pub generation: u64,
}

pub struct Witness {
    pub ttl: Duration,
    pub ttl_s: u32,
    /// The store's clock rate (its time is global time times this).
    pub rate: f64,
    /// One-way delay between a node and the store.
    pub delay: Duration,
    /// How long a client waits for an answer.
    pub timeout: Duration,
    /// The store is up.
    pub up: bool,
    /// Which nodes can reach the store.
    pub reach: Vec<bool>,
    pub clients: Vec<Client>,
    /// (node, lease) holding the key.
    pub holder: Option<(usize, u64)>,
    /// lease → (node, expiry on the store's clock).
    leases: HashMap<u64, (usize, Duration)>,
    next_lease: u64,
    ops: BinaryHeap<Reverse<(Duration, u64, Op)>>,
    seq: u64,
}

impl Witness {
    pub fn new(nodes: usize, ttl_s: u32) -> Witness {
        let ttl = Duration::from_secs(u64::from(ttl_s));
        Witness {
            ttl,
            ttl_s,
            rate: 1.0,
            delay: Duration::from_millis(1),
            timeout: ttl / 6,
            up: true,
            reach: vec![true; nodes],
            clients: vec![Client::default(); nodes],
            holder: None,
            leases: HashMap::new(),
            next_lease: 1,
            ops: BinaryHeap::new(),
            seq: 0,
        }
    }

    pub fn next_time(&self) -> Option<Duration> {
        let op = self.ops.peek().map(|Reverse((at, _, _))| *at);
        let tries = self
            .clients
            .iter()
            .filter(|c| !c.in_flight)
            .filter_map(|c| c.next_try)
            .min();
        match (op, tries) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn push(&mut self, at: Duration, op: Op) {
        self.seq += 1;
        self.ops.push(Reverse((at, self.seq, op)));
    }

    /// Takes the store down or brings it back. Like etcd's lessor when a leader is
    /// (re-)elected, a store that comes back refreshes every lease to a full TTL.
    pub fn set_up(&mut self, up: bool, now: Duration) {
        if up && !self.up {
            let store_now = now.mul_f64(self.rate);
            for (_, expiry) in self.leases.values_mut() {
                *expiry = store_now + self.ttl;
            }
        }
        self.up = up;
    }

    fn reaches(&self, node: usize) -> bool {
        self.up && self.reach[node]
    }

    /// Sends `request` from `node` now; an unreachable store answers with a timeout.
    pub fn send(&mut self, node: usize, request: Request, now: Duration, local: Duration) {
        let generation = self.clients[node].generation;
        if !matches!(request, Request::Revoke(_)) {
            self.clients[node].in_flight = true;
        }
        if self.reaches(node) {
            let op = Op::Arrive {
                node,
                generation,
                request,
                sent_global: now,
                sent_local: local,
            };
            self.push(now + self.delay, op);
        } else if !matches!(request, Request::Revoke(_)) {
            self.timeout_reply(node, generation, now);
        }
    }

    fn timeout_reply(&mut self, node: usize, generation: u64, sent: Duration) {
        let op = Op::Deliver {
            node,
            generation,
            reply: Reply::Unreachable,
        };
        self.push(sent + self.timeout, op);
    }

    /// The next due op (store arrival or reply), or a client whose next request is due.
    pub fn pop_due(&mut self, now: Duration) -> Option<Due> {
        if let Some(Reverse((at, _, _))) = self.ops.peek()
            && *at <= now
        {
            let Reverse((_, _, op)) = self.ops.pop()?;
            return Some(Due::Op(op));
        }
        let node = (0..self.clients.len()).find(|&i| {
            let c = &self.clients[i];
            !c.in_flight && c.next_try.is_some_and(|t| t <= now)
        })?;
        self.clients[node].next_try = None;
        Some(Due::Try(node))
    }

    /// The store handles a request that arrived at global time `now`.
    pub fn arrive(&mut self, now: Duration, op: Op) {
        let Op::Arrive {
            node,
            generation,
            request,
            sent_global,
            sent_local,
        } = op
        else {
            return;
        };
        if !self.reaches(node) {
            // Lost on the way: the client times out.
            if !matches!(request, Request::Revoke(_)) {
                self.timeout_reply(node, generation, sent_global);
            }
            return;
        }
        let store_now = now.mul_f64(self.rate);
        self.leases.retain(|_, (_, expiry)| *expiry > store_now);
        if let Some((_, lease)) = self.holder
            && !self.leases.contains_key(&lease)
        {
            self.holder = None;
        }
        let reply = match request {
            Request::Acquire => match self.holder {
                None => {
                    let lease = self.next_lease;
                    self.next_lease += 1;
                    self.leases.insert(lease, (node, store_now + self.ttl));
                    self.holder = Some((node, lease));
                    Reply::Granted {
                        lease,
                        sent: sent_local,
                    }
                }
                Some((holder, _)) => Reply::HeldBy(holder),
            },
            Request::KeepAlive(lease) => match self.leases.get_mut(&lease) {
                Some((_, expiry)) => {
                    *expiry = store_now + self.ttl;
                    Reply::Renewed { sent: sent_local }
                }
                None => Reply::Lost,
            },
            Request::Revoke(lease) => {
                self.leases.remove(&lease);
                if self.holder.is_some_and(|(_, l)| l == lease) {
                    self.holder = None;
                }
                Reply::Revoked
            }
        };
        if reply == Reply::Revoked {
            return;
        }
        if self.reaches(node) {
            let op = Op::Deliver {
                node,
                generation,
                reply,
            };
            self.push(now + self.delay, op);
        } else {
            self.timeout_reply(node, generation, sent_global);
        }
    }

    /// A reply reached `node`: what the state machine is told, if anything.
    pub fn deliver(&mut self, now: Duration, node: usize, generation: u64, reply: Reply) -> Told {
        let client = &mut self.clients[node];
        if generation != client.generation {
            return Told::Nothing;
        }
        client.in_flight = false;
        match reply {
            Reply::Granted { lease, sent } => {
                if !client.wanting {
                    return Told::Revoke(lease);
                }
                client.held = Some(lease);
                client.next_try = Some(now + self.ttl / 3);
                Told::Held(sent + safe_hold(self.ttl))
            }
            Reply::Renewed { sent } => {
                client.next_try = Some(now + self.ttl / 3);
                if client.held.is_none() {
                    return Told::Nothing;
                }
                Told::Held(sent + safe_hold(self.ttl))
            }
            Reply::Lost => {
                client.held = None;
                client.next_try = client.wanting.then_some(now);
                Told::Nothing
            }
            Reply::HeldBy(holder) => {
                client.next_try = client.wanting.then_some(now + POLL);
                Told::HeldBy(holder)
            }
            Reply::Unreachable => {
                client.next_try = client.wanting.then_some(now + RETRY);
                Told::Unreachable
            }
            Reply::Revoked => Told::Nothing,
        }
    }

    /// The request a client sends when its next try is due.
    pub fn due_request(&self, node: usize) -> Option<Request> {
        let c = &self.clients[node];
        if !c.wanting {
            return None;
        }
        Some(match c.held {
            Some(lease) => Request::KeepAlive(lease),
            None => Request::Acquire,
        })
    }

    /// `Action::WantLease`.
    pub fn want(&mut self, node: usize, now: Duration) {
        let c = &mut self.clients[node];
        c.wanting = true;
        if !c.in_flight {
            c.next_try = Some(now);
        }
    }

    /// `Action::DropLease`: the lease to revoke, if held.
    pub fn drop_lease(&mut self, node: usize) -> Option<u64> {
        let c = &mut self.clients[node];
        c.wanting = false;
        c.next_try = None;
        c.held.take()
    }

    /// The node's process died: its client forgets everything (its lease expires).
    pub fn crash(&mut self, node: usize) {
        let c = &mut self.clients[node];
        *c = Client {
            generation: c.generation + 1,
            ..Client::default()
        };
    }
}

pub enum Due {
    Op(Op),
    Try(usize),
}

/// What a reply means for the state machine.
pub enum Told {
    Nothing,
    Held(Duration),
    HeldBy(usize),
    Unreachable,
    Revoke(u64),
}
