//! A deterministic browser: tabs, a BroadcastChannel, a Web Locks manager and an SSE server,
//! driven by one seeded event queue. Time is global microseconds; each tab sees it shifted by its
//! clock skew.
//!
//! This file holds the world's state and its driving loop (the event queue, each tab's next
//! timer with hidden-tab throttling, dispatch, the invariant check after every step); the rest
//! lives by job:
//!
//! | module    | job                                                                            |
//! |-----------|--------------------------------------------------------------------------------|
//! | `config`  | [`WorldConfig`], time units, throttling constants, the seeded generator        |
//! | `tabs`    | each tab's life and busy main thread, inputs in, outputs performed, delivery   |
//! | `channel` | the BroadcastChannel: delays, per-sender order, loss                           |
//! | `locks`   | the Web Locks manager: holder, queue, steals                                   |
//! | `server`  | the SSE server: runs, connections, resume / replay / reset, publishing         |
//! | `actions` | [`Action`]s: what schedules and scenarios make happen                          |

mod actions;
mod channel;
mod config;
mod locks;
mod server;
mod tabs;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};

use coord::{Input, Role, TabId, Term};

pub use actions::Action;
pub use config::{
    SimRng, WorldConfig, BUSY_DELAY, HIDDEN_TIMER_GRANULARITY, INTENSIVE_AFTER,
    INTENSIVE_TIMER_GRANULARITY, MS, SEC, T0,
};
pub use server::{device_event, reset_epoch, reset_head, ServerRun, ServerStream};
pub use tabs::{Life, SimTab};

/// A queue entry, ordered by time then insertion (the event is boxed: cheap to move).
#[derive(Debug)]
struct Queued {
    at: u64,
    seq: u64,
    ev: Box<Ev>,
}

impl PartialEq for Queued {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Queued {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

#[derive(Debug, Clone)]
enum Ev {
    /// A plain input for a tab (channel message, lock grant / loss).
    Input { tab: usize, input: Input },
    /// A stream input, dropped if that stream was closed since.
    Stream { tab: usize, gen: u64, input: Input },
    /// The server answers a connection attempt.
    Connect {
        tab: usize,
        gen: u64,
        resume: Option<coord::Position>,
    },
    /// A busy tab finally handles an input (`gen`: of the stream it came from).
    Handle {
        tab: usize,
        gen: Option<u64>,
        input: Input,
    },
    /// A busy tab finally runs its due timers.
    Timer { tab: usize },
    /// Scripted action (see `World::at`).
    Action(Action),
}

/// A violated invariant: what, when, and where to look.
#[derive(Debug, Clone)]
pub struct Violation {
    pub at: u64,
    pub what: String,
}

pub struct World {
    pub cfg: WorldConfig,
    pub rng: SimRng,
    pub now: u64,
    seq: u64,
    queue: BinaryHeap<Reverse<Queued>>,
    /// Each tab's next timer (global time), refreshed whenever the tab was touched.
    timers: Vec<Option<u64>>,
    pub tabs: Vec<SimTab>,
    // Channel: last delivery time per (sender, receiver), to keep same-sender order.
    channel_fifo: BTreeMap<(usize, usize), u64>,
    loss_until: u64,
    loss_p: f64,
    pub messages_sent: u64,
    pub messages_lost: u64,
    /// Messages posted, by kind (`Body` variant).
    pub sent_by_kind: BTreeMap<&'static str, u64>,
    // Locks.
    lock_holder: Option<usize>,
    lock_queue: VecDeque<usize>,
    // Server.
    pub head: u64,
    /// (when, id) of every publish.
    pub publish_times: Vec<(u64, u64)>,
    /// Every run of the server's log, the current one last.
    pub runs: Vec<ServerRun>,
    /// Every tab is busy until then (also tabs opened meanwhile).
    pub busy_all_until: u64,
    /// A slow build (a debug build's wasm): every input and timer of every tab costs this much
    /// main-thread time (micros, a range), queued behind the ones before it: a burst of
    /// messages backs up, unlike `Busy`'s fixed delay. `(0, 0)`: off.
    pub input_cost: (u64, u64),
    /// Faults that may legitimately change the leadership: (when, what).
    pub leader_faults: Vec<(u64, &'static str)>,
    /// When each term was first led, and whether a leader was stable just before.
    pub term_started: Vec<(u64, Term, bool)>,
    server_up: bool,
    pub stream_opens: u64,
    // Invariant bookkeeping.
    pub term_leaders: BTreeMap<Term, TabId>,
    pub violations: Vec<Violation>,
    pub overlap_since: Option<u64>,
    pub overlaps: Vec<u64>,
    pub stable_since: Option<u64>,
    /// The sole live leader with an open stream, and since when (followers may still be
    /// joining: a burst of new tabs keeps the world from being `stable`).
    pub settled_leader: Option<(usize, u64)>,
    /// The first moment the world was stable.
    pub first_stable: Option<u64>,
    /// Simulated-time bound on two non-frozen tabs holding a server stream at once.
    pub handoff_bound: u64,
    /// A leader was just lost: (when, kind, which tab), until another tab leads.
    pub leader_loss: Option<(u64, &'static str, usize)>,
    /// Time to a new leader after each leader loss, by kind.
    pub elections: Vec<(&'static str, u64)>,
    /// Print every step (COORD_SEED reruns).
    pub trace: bool,
}

impl World {
    pub fn new(cfg: WorldConfig, seed: u64) -> Self {
        Self {
            cfg,
            rng: SimRng::new(seed),
            now: T0,
            seq: 0,
            queue: BinaryHeap::new(),
            timers: Vec::new(),
            tabs: Vec::new(),
            channel_fifo: BTreeMap::new(),
            loss_until: 0,
            loss_p: 0.0,
            messages_sent: 0,
            messages_lost: 0,
            sent_by_kind: BTreeMap::new(),
            lock_holder: None,
            lock_queue: VecDeque::new(),
            head: 0,
            publish_times: Vec::new(),
            runs: vec![ServerRun {
                epoch: "run-0".into(),
                floor: 0,
                started: 0,
            }],
            busy_all_until: 0,
            input_cost: (0, 0),
            leader_faults: Vec::new(),
            term_started: Vec::new(),
            server_up: true,
            stream_opens: 0,
            term_leaders: BTreeMap::new(),
            violations: Vec::new(),
            overlap_since: None,
            overlaps: Vec::new(),
            stable_since: None,
            settled_leader: None,
            first_stable: None,
            handoff_bound: crate::invariants::HANDOFF_BOUND,
            leader_loss: None,
            elections: Vec::new(),
            trace: false,
        }
    }

    fn push(&mut self, at: u64, ev: Ev) {
        self.seq += 1;
        self.queue.push(Reverse(Queued {
            at,
            seq: self.seq,
            ev: Box::new(ev),
        }));
    }

    fn refresh_timer(&mut self, i: usize) {
        let t = self.timer_of(i);
        self.timers[i] = t;
    }

    /// Schedules a scripted action at absolute simulated time `at`.
    pub fn at(&mut self, at: u64, action: Action) {
        self.push(at, Ev::Action(action));
    }

    /// When tab `i` wants its next timer, in global time, with hidden-tab throttling.
    fn timer_of(&self, i: usize) -> Option<u64> {
        let t = &self.tabs[i];
        if !t.is_live() || t.timer_queued {
            return None;
        }
        let local = t.tab.poll_timeout()?;
        let global = (local.0 as i64 - t.skew).max(0) as u64;
        let global = match t.hidden_since {
            None => global,
            Some(since) => {
                let g = if global.saturating_sub(since) >= INTENSIVE_AFTER {
                    INTENSIVE_TIMER_GRANULARITY
                } else {
                    HIDDEN_TIMER_GRANULARITY
                };
                global.div_ceil(g) * g
            }
        };
        Some(global.max(self.now))
    }

    /// Runs until `until` (absolute), processing events and timers in time order.
    pub fn run_until(&mut self, until: u64) {
        let (mut same_time, mut last_t) = (0u32, 0u64);
        loop {
            let next_timer = self
                .timers
                .iter()
                .enumerate()
                .filter_map(|(i, t)| t.map(|t| (t, i)))
                .min();
            let next_ev = self.queue.peek().map(|Reverse(q)| q.at);
            let timer_first = match (next_timer, next_ev) {
                (Some((tt, _)), Some(te)) => tt < te,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            let t = if timer_first {
                next_timer.unwrap().0
            } else {
                next_ev.unwrap()
            };
            if t > until {
                break;
            }
            same_time = if t == last_t { same_time + 1 } else { 0 };
            last_t = t;
            if same_time > 10_000 {
                self.violate(format!(
                    "livelock: 10000 steps at the same instant (timer first: {timer_first})"
                ));
                break;
            }
            self.now = t;
            if timer_first {
                let i = next_timer.unwrap().1;
                if let Some(at) = self.busy_at(i) {
                    self.tabs[i].timer_queued = true;
                    self.timers[i] = None;
                    self.push(at, Ev::Timer { tab: i });
                } else {
                    self.run_timers(i);
                }
            } else {
                let Reverse(q) = self.queue.pop().unwrap();
                self.dispatch(*q.ev);
            }
            self.check();
        }
        self.now = self.now.max(until);
        self.check();
    }

    pub fn run_for(&mut self, d: u64) {
        self.run_until(self.now + d);
    }

    fn dispatch(&mut self, ev: Ev) {
        if self.trace && !matches!(ev, Ev::Action(_)) {
            println!("{:>10} {ev:?}", self.now - T0);
        }
        match ev {
            Ev::Input { tab, input } => self.deliver(tab, input),
            Ev::Stream { tab, gen, input } => {
                if self.tabs[tab].stream_gen == gen && self.tabs[tab].stream != ServerStream::Closed
                {
                    if let Some(at) = self.busy_at(tab) {
                        let gen = Some(gen);
                        self.push(at, Ev::Handle { tab, gen, input });
                        return;
                    }
                    self.handle_stream_input(tab, input);
                }
            }
            Ev::Handle { tab, gen, input } => match gen {
                None => self.handle_now(tab, input),
                Some(gen) => {
                    if self.tabs[tab].stream_gen == gen
                        && self.tabs[tab].stream != ServerStream::Closed
                    {
                        self.handle_stream_input(tab, input);
                    }
                }
            },
            Ev::Timer { tab } => {
                self.tabs[tab].timer_queued = false;
                if self.tabs[tab].is_live() {
                    self.run_timers(tab);
                } else {
                    self.refresh_timer(tab);
                }
            }
            Ev::Connect { tab, gen, resume } => self.server_connect(tab, gen, resume),
            Ev::Action(a) => self.act(a),
        }
    }

    /// Live tabs that consider themselves leader.
    pub fn leaders(&self) -> Vec<usize> {
        (0..self.tabs.len())
            .filter(|&i| self.tabs[i].is_live() && self.tabs[i].tab.role() == Role::Leader)
            .collect()
    }

    /// The single live leader, if exactly one.
    pub fn leader(&self) -> Option<usize> {
        match self.leaders()[..] {
            [l] => Some(l),
            _ => None,
        }
    }

    /// Non-frozen tabs holding a server stream (connecting or open), as the server sees it.
    pub fn stream_holders(&self) -> Vec<usize> {
        (0..self.tabs.len())
            .filter(|&i| self.tabs[i].is_live() && self.tabs[i].stream != ServerStream::Closed)
            .collect()
    }

    pub fn violate(&mut self, what: String) {
        if self.violations.len() < 20 {
            self.violations.push(Violation { at: self.now, what });
        }
    }

    fn check(&mut self) {
        self.sync_baselines();
        crate::invariants::check_step(self);
    }
}
