//! A deterministic browser: tabs, a BroadcastChannel, a Web Locks manager and an SSE server,
//! driven by one seeded event queue. Time is global microseconds; each tab sees it shifted by its
//! clock skew.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::time::Duration;

use coord::{
    AppEvent, Config, Input, Instant, Mechanism, Message, Output, Role, ServerEvent, TabId, Term,
};

/// SplitMix64, the same generator the core uses, so runs depend on nothing but the seed.
#[derive(Debug, Clone)]
pub struct SimRng(u64);

impl SimRng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

pub const MS: u64 = 1_000;
pub const SEC: u64 = 1_000_000;
/// Simulated time starts here so that negative clock skews stay representable.
pub const T0: u64 = 1_000 * SEC;

/// Hidden tabs' timers fire on 1 s boundaries (Chrome's throttling of hidden tabs)…
pub const HIDDEN_TIMER_GRANULARITY: u64 = SEC;
/// …and on 1 min boundaries once hidden for 5 minutes (intensive throttling).
pub const INTENSIVE_TIMER_GRANULARITY: u64 = 60 * SEC;
pub const INTENSIVE_AFTER: u64 = 5 * 60 * SEC;

/// What the world is like.
#[derive(Debug, Clone)]
pub struct WorldConfig {
    pub mechanism: Mechanism,
    pub core: Config,
    /// Channel delivery delay range (per message, per receiver).
    pub channel_delay: (u64, u64),
    /// Lock grant / rejection delay range.
    pub lock_delay: (u64, u64),
    /// Time from `OpenStream` to the server answering.
    pub connect_delay: (u64, u64),
    /// Server → tab delay per stream event.
    pub stream_delay: (u64, u64),
    /// Events the server replays before answering `reset`.
    pub server_buffer: usize,
    /// Max clock skew of a tab (± micros).
    pub max_skew: u64,
    /// Round-trip every nth channel message through `encode` / `decode` (0: never).
    pub encode_every: u64,
}

impl WorldConfig {
    pub fn new(mechanism: Mechanism) -> Self {
        let core = Config {
            backoff_base: Duration::from_millis(200),
            backoff_cap: Duration::from_secs(2),
            ..Config::default()
        };
        Self {
            mechanism,
            core,
            channel_delay: (100, 3 * MS),
            lock_delay: (50, 500),
            connect_delay: (2 * MS, 20 * MS),
            stream_delay: (200, 5 * MS),
            server_buffer: 64,
            max_skew: 2 * MS,
            encode_every: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Life {
    Running,
    Frozen,
    /// In the back/forward cache (after `PageHide`): receives nothing until `PageShow`.
    Away,
    Closed,
    Crashed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerStream {
    Closed,
    Connecting,
    Open,
}

/// Everything the world records about one tab.
#[derive(Debug)]
pub struct SimTab {
    pub tab: coord::Tab,
    pub life: Life,
    pub visible: bool,
    /// Since when the tab is hidden (for intensive throttling).
    pub hidden_since: Option<u64>,
    pub skew: i64,
    pub created_at: u64,
    /// Inputs that arrived while frozen, delivered on thaw (the browser queues tasks).
    pub inbox: VecDeque<Input>,
    pub stream: ServerStream,
    pub stream_gen: u64,
    /// Last delivery time of this tab's stream (server → tab is FIFO).
    pub stream_fifo: u64,
    /// The point up to which every event id was delivered or covered by a reset (None: no
    /// baseline yet). Checked to advance by exactly one per delivered event.
    pub delivered_upto: Option<u64>,
    /// The run (server epoch) of `delivered_upto`.
    pub delivered_epoch: Option<String>,
    /// A `Lost` notice was delivered: the next event may jump.
    pub lost_gap: bool,
    pub baseline: Option<u64>,
    /// When the tab first knew of an open leader stream (its own, or reported by the leader).
    pub joined_at: Option<u64>,
    pub delivered: u64,
    pub resets: u64,
    pub lost: u64,
    /// Relayed event latencies (micros).
    pub latencies: Vec<u64>,
    pub app_events: Vec<AppEvent>,
    pub record_app_events: bool,
    /// A busy main thread: until then every input (and timer) waits 100–300 ms, in order.
    pub busy_until: u64,
    /// When the last delayed input is handled (inputs stay in order).
    pub busy_last: u64,
    /// A timer task is queued (busy tab): do not fire it again.
    pub timer_queued: bool,
    /// Channel messages of other tabs delivered to this tab (coordination chatter and relays).
    pub received: u64,
}

impl SimTab {
    pub fn is_live(&self) -> bool {
        self.life == Life::Running
    }
    pub fn is_present(&self) -> bool {
        matches!(self.life, Life::Running | Life::Frozen)
    }
    pub fn local(&self, global: u64) -> Instant {
        Instant((global as i64 + self.skew) as u64)
    }
}

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

/// Things a schedule or a scenario makes happen.
#[derive(Debug, Clone)]
pub enum Action {
    Open {
        visible: bool,
    },
    Close(usize),
    Crash(usize),
    Freeze {
        tab: usize,
        announced: bool,
    },
    Thaw(usize),
    SetVisible(usize, bool),
    Publish,
    ServerDown,
    ServerUp,
    Loss {
        until: u64,
        p: f64,
    },
    StepDown(usize),
    /// Close / crash / freeze whichever tab leads at that moment (measured as a leader loss).
    CloseLeader,
    CrashLeader,
    FreezeLeader {
        announced: bool,
        for_us: u64,
    },
    /// The server restarts: a new run (epoch) whose ids start far above the old ones; every
    /// stream is cut; the server is back after `down_us`.
    ServerRestart {
        down_us: u64,
    },
    /// Tab `Some(i)` (or every tab, also those opened meanwhile) has a busy main thread until
    /// `until`: each input waits 100–300 ms before it is handled, in order.
    Busy {
        tab: Option<usize>,
        until: u64,
    },
    /// `pagehide` into the back/forward cache; the tab receives nothing until `BfcacheReturn`.
    BfcacheLeave(usize),
    BfcacheReturn(usize),
}

/// One run of the server's event log.
#[derive(Debug, Clone)]
pub struct ServerRun {
    pub epoch: String,
    pub floor: u64,
    pub started: u64,
}

/// Handling delay of a busy main thread.
pub const BUSY_DELAY: (u64, u64) = (100 * MS, 300 * MS);

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

    // ---- running --------------------------------------------------------------------------

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

    fn handle_stream_input(&mut self, tab: usize, input: Input) {
        if input == Input::StreamError {
            self.tabs[tab].stream = ServerStream::Closed; // the shell closes it
        }
        self.handle_now(tab, input);
    }

    fn run_timers(&mut self, i: usize) {
        let now = self.tabs[i].local(self.now);
        if self.trace {
            let slow = self.tabs[i].tab.slowness_estimate(now);
            println!("{:>10} timer tab {i} (slowness {slow:?})", self.now - T0);
        }
        self.tabs[i].tab.handle_timeout(now);
        self.drain(i);
    }

    /// When a busy tab gets to an input arriving now (`None`: not busy, at once).
    fn busy_at(&mut self, i: usize) -> Option<u64> {
        let t = &self.tabs[i];
        if t.life == Life::Frozen && t.busy_last > self.now {
            // Frozen with inputs still queued: this one queues behind them (kept in order).
            return Some(t.busy_last);
        }
        if t.is_live() && self.input_cost.1 > 0 {
            // Each input waits for the ones before it, then takes its own time.
            let cost = self.rng.range(self.input_cost.0, self.input_cost.1);
            let t = &mut self.tabs[i];
            let at = self.now.max(t.busy_last) + cost;
            t.busy_last = at;
            return Some(at);
        }
        if !t.is_live()
            || (self.now >= t.busy_until.max(self.busy_all_until) && t.busy_last <= self.now)
        {
            return None;
        }
        // Busy: this input waits; no longer busy: it only waits for the queue to drain.
        let d = if self.now < t.busy_until.max(self.busy_all_until) {
            self.rng.range(BUSY_DELAY.0, BUSY_DELAY.1)
        } else {
            0
        };
        let t = &mut self.tabs[i];
        let at = (self.now + d).max(t.busy_last);
        t.busy_last = at;
        Some(at)
    }

    /// Hands an input to a tab: now, or after its busy main thread gets to it.
    fn deliver(&mut self, i: usize, input: Input) {
        let lifecycle = matches!(
            input,
            Input::PageHide | Input::PageShow | Input::Frozen | Input::Resumed
        );
        if !lifecycle {
            if let Some(at) = self.busy_at(i) {
                self.push(
                    at,
                    Ev::Handle {
                        tab: i,
                        gen: None,
                        input,
                    },
                );
                return;
            }
        }
        self.handle_now(i, input);
    }

    /// Hands an input to a tab now (or to its inbox when frozen).
    fn handle_now(&mut self, i: usize, input: Input) {
        match self.tabs[i].life {
            Life::Running => {}
            Life::Frozen => return self.tabs[i].inbox.push_back(input),
            Life::Closed | Life::Crashed | Life::Away => return,
        }
        // Fencing check: a relay from a term below the tab's fence must not reach the app.
        let stale_relay = match &input {
            Input::Channel(Message {
                body: coord::Body::Relay { term, .. },
                ..
            }) => *term < self.tabs[i].tab.term(),
            _ => false,
        };
        let relayed_before = self.tabs[i].tab.stats().relayed_in;
        let now = self.tabs[i].local(self.now);
        self.tabs[i].tab.handle(now, input);
        if stale_relay && self.tabs[i].tab.stats().relayed_in != relayed_before {
            self.violate(format!("tab {i} accepted a relay from a stale term"));
        }
        self.drain(i);
    }

    /// Performs every output of tab `i`.
    fn drain(&mut self, i: usize) {
        while let Some(out) = self.tabs[i].tab.poll_output() {
            if self.trace {
                println!(
                    "{:>10}   tab {i} ({:?} {:?}) -> {out:?}",
                    self.now - T0,
                    self.tabs[i].tab.role(),
                    self.tabs[i].tab.term()
                );
            }
            match out {
                Output::Post(m) => self.broadcast(i, m),
                Output::OpenStream { resume } => self.open_stream(i, resume),
                Output::CloseStream => {
                    self.tabs[i].stream = ServerStream::Closed;
                    self.tabs[i].stream_gen += 1;
                }
                Output::RequestLock { steal } => self.lock_request(i, steal),
                Output::AbortLockRequest => self.lock_queue.retain(|&t| t != i),
                Output::ReleaseLock => {
                    if self.lock_holder == Some(i) {
                        self.lock_holder = None;
                        self.grant_next();
                    }
                }
                Output::Emit(e) => self.record_emit(i, e),
            }
        }
        self.refresh_timer(i);
    }

    /// The run an id belongs to (runs' ids never overlap in the simulator).
    pub fn epoch_of(&self, id: u64) -> String {
        self.runs
            .iter()
            .rev()
            .find(|r| r.floor <= id)
            .map(|r| r.epoch.clone())
            .unwrap_or_default()
    }

    pub fn current_run(&self) -> &ServerRun {
        self.runs.last().expect("one run at least")
    }

    /// **Delivery, exactly once per run**: within a run each id once and in order; the first
    /// event of a new run only after a `Reset` of that run (or a `Lost` notice).
    fn record_emit(&mut self, i: usize, e: AppEvent) {
        match &e {
            AppEvent::Event { event, latency, .. } => {
                if let Some(l) = latency {
                    self.tabs[i].latencies.push(l.as_micros() as u64);
                }
                if let Some(id) = event.id {
                    let epoch = self.epoch_of(id);
                    let t = &mut self.tabs[i];
                    let same_run = t.delivered_epoch.as_deref() == Some(epoch.as_str());
                    match t.delivered_upto {
                        None => {
                            t.baseline = Some(id - 1);
                            t.delivered_upto = Some(id);
                            t.delivered_epoch = Some(epoch);
                        }
                        Some(upto) if same_run && id == upto + 1 => t.delivered_upto = Some(id),
                        Some(_) if t.lost_gap => {
                            t.delivered_upto = Some(id);
                            t.delivered_epoch = Some(epoch);
                        }
                        Some(upto) if same_run => {
                            let msg = format!("tab {i} delivered id {id} after {upto} (duplicate, gap or reorder)");
                            self.violate(msg);
                        }
                        Some(upto) => {
                            let msg = format!(
                                "tab {i} delivered id {id} of run {epoch} while at {:?}:{upto}, without a reset",
                                t.delivered_epoch
                            );
                            self.violate(msg);
                        }
                    }
                    let t = &mut self.tabs[i];
                    t.lost_gap = false;
                    t.delivered += 1;
                }
            }
            AppEvent::Reset { event, .. } => {
                let head = reset_head(&event.data);
                let epoch = reset_epoch(&event.data);
                let t = &mut self.tabs[i];
                t.resets += 1;
                if t.delivered_epoch.as_deref() == Some(epoch.as_str())
                    && t.delivered_upto.is_some_and(|u| head <= u)
                {
                    let msg = format!(
                        "tab {i} reset to {head} though it had {:?}",
                        t.delivered_upto
                    );
                    self.violate(msg);
                }
                let t = &mut self.tabs[i];
                if t.baseline.is_none() {
                    t.baseline = Some(head);
                }
                t.delivered_upto = Some(head);
                t.delivered_epoch = Some(epoch);
                t.lost_gap = false;
            }
            AppEvent::Lost { .. } => {
                self.tabs[i].lost += 1;
                self.tabs[i].lost_gap = true;
            }
            _ => {}
        }
        if self.tabs[i].record_app_events {
            self.tabs[i].app_events.push(e);
        }
    }

    /// The tab's own baseline may come from a leader heartbeat before any event: adopt it.
    fn sync_baselines(&mut self) {
        for t in &mut self.tabs {
            if t.joined_at.is_none()
                && t.is_live()
                && t.tab.stream_state() == coord::StreamState::Open
                && (t.tab.role() != Role::Leader || t.stream == ServerStream::Open)
            {
                t.joined_at = Some(self.now);
            }
        }
        for i in 0..self.tabs.len() {
            if self.tabs[i].delivered_upto.is_none() {
                if let Some(h) = self.tabs[i].tab.highest_id() {
                    let epoch = self.epoch_of(h);
                    let t = &mut self.tabs[i];
                    t.baseline = Some(h);
                    t.delivered_upto = Some(h);
                    t.delivered_epoch = Some(epoch);
                }
            }
        }
    }

    // ---- channel --------------------------------------------------------------------------

    fn broadcast(&mut self, from: usize, m: Message) {
        self.messages_sent += 1;
        *self.sent_by_kind.entry(kind_of(&m.body)).or_default() += 1;
        let m = if self.cfg.encode_every > 0
            && self.messages_sent.is_multiple_of(self.cfg.encode_every)
        {
            Message::decode(&m.encode()).expect("own messages decode")
        } else {
            m
        };
        for to in 0..self.tabs.len() {
            if to == from || !self.tabs[to].is_present() {
                continue;
            }
            if self.now < self.loss_until && self.rng.chance(self.loss_p) {
                self.messages_lost += 1;
                continue;
            }
            let delay = self
                .rng
                .range(self.cfg.channel_delay.0, self.cfg.channel_delay.1);
            let fifo = self.channel_fifo.entry((from, to)).or_default();
            let at = (self.now + delay).max(*fifo);
            *fifo = at;
            self.tabs[to].received += 1;
            self.push(
                at,
                Ev::Input {
                    tab: to,
                    input: Input::Channel(m.clone()),
                },
            );
        }
    }

    // ---- locks ----------------------------------------------------------------------------

    fn lock_request(&mut self, i: usize, steal: bool) {
        if steal {
            if let Some(old) = self.lock_holder.replace(i) {
                if old != i {
                    let d = self.rng.range(self.cfg.lock_delay.0, self.cfg.lock_delay.1);
                    self.push(
                        self.now + d,
                        Ev::Input {
                            tab: old,
                            input: Input::LockLost,
                        },
                    );
                }
            }
            self.grant(i);
        } else if self.lock_holder.is_none() && self.lock_queue.is_empty() {
            self.lock_holder = Some(i);
            self.grant(i);
        } else {
            self.lock_queue.push_back(i);
        }
    }

    fn grant(&mut self, i: usize) {
        let d = self.rng.range(self.cfg.lock_delay.0, self.cfg.lock_delay.1);
        self.push(
            self.now + d,
            Ev::Input {
                tab: i,
                input: Input::LockGranted,
            },
        );
    }

    fn grant_next(&mut self) {
        if self.lock_holder.is_none() {
            if let Some(next) = self.lock_queue.pop_front() {
                self.lock_holder = Some(next);
                self.grant(next);
            }
        }
    }

    /// The browser forgets a gone tab's lock and requests.
    fn drop_tab_resources(&mut self, i: usize) {
        self.lock_queue.retain(|&t| t != i);
        if self.lock_holder == Some(i) {
            self.lock_holder = None;
            self.grant_next();
        }
        self.tabs[i].stream = ServerStream::Closed;
        self.tabs[i].stream_gen += 1;
    }

    // ---- server ---------------------------------------------------------------------------

    fn open_stream(&mut self, i: usize, resume: Option<coord::Position>) {
        self.stream_opens += 1;
        let t = &mut self.tabs[i];
        t.stream_gen += 1;
        t.stream = ServerStream::Connecting;
        let gen = t.stream_gen;
        let d = self
            .rng
            .range(self.cfg.connect_delay.0, self.cfg.connect_delay.1);
        self.push(
            self.now + d,
            Ev::Connect {
                tab: i,
                gen,
                resume,
            },
        );
    }

    fn stream_send(&mut self, i: usize, input: Input) {
        let d = self
            .rng
            .range(self.cfg.stream_delay.0, self.cfg.stream_delay.1);
        let at = (self.now + d).max(self.tabs[i].stream_fifo);
        self.tabs[i].stream_fifo = at;
        let gen = self.tabs[i].stream_gen;
        self.push(at, Ev::Stream { tab: i, gen, input });
    }

    fn server_connect(&mut self, i: usize, gen: u64, resume: Option<coord::Position>) {
        if self.tabs[i].stream_gen != gen || self.tabs[i].stream != ServerStream::Connecting {
            return;
        }
        if !self.server_up {
            self.stream_send(i, Input::StreamError);
            return;
        }
        self.tabs[i].stream = ServerStream::Open;
        self.stream_send(i, Input::StreamOpened);
        let run = self.current_run().clone();
        let hello = format!(
            r#"{{"instance":"sim-{}","epoch":"{}","head_id":{},"retry_ms":300}}"#,
            run.epoch, run.epoch, self.head
        );
        self.stream_send(
            i,
            Input::StreamEvent(ServerEvent::new(None, "hello", hello)),
        );
        // The server's own rule (`wire::resume`), over a buffer of the last `server_buffer` ids.
        let oldest = (self.head > run.floor).then(|| {
            (self.head + 1)
                .saturating_sub(self.cfg.server_buffer as u64)
                .max(run.floor + 1)
        });
        let log = wire::LogView {
            epoch: &run.epoch,
            floor: run.floor,
            head: self.head,
            oldest,
        };
        // As the shell puts it in the URL: `?last_event_id=N&epoch=E` (no epoch when empty).
        let request = resume.as_ref().map(|p| wire::ResumeRequest {
            epoch: (!p.epoch.is_empty()).then_some(p.epoch.as_str()),
            last_id: p.id,
        });
        match wire::resume(&log, request) {
            wire::Resume::UpToDate => {}
            wire::Resume::Replay { after } => {
                for id in after + 1..=self.head {
                    self.stream_send(i, Input::StreamEvent(device_event(id)));
                }
            }
            wire::Resume::Reset(reason) => {
                let data = format!(
                    r#"{{"epoch":"{}","head_id":{},"devices":[],"reason":"{}"}}"#,
                    run.epoch,
                    self.head,
                    reason.label()
                );
                self.stream_send(i, Input::StreamEvent(ServerEvent::new(None, "reset", data)));
            }
        }
    }

    fn publish(&mut self) {
        self.head += 1;
        self.publish_times.push((self.now, self.head));
        let id = self.head;
        for i in 0..self.tabs.len() {
            if self.tabs[i].stream == ServerStream::Open && self.tabs[i].is_present() {
                self.stream_send(i, Input::StreamEvent(device_event(id)));
            }
        }
    }

    /// A new run: ids start far above the old ones (the real server takes the floor from the
    /// clock, `wire::floor_for_new_run`).
    fn restart_server(&mut self) {
        let floor = self.head + 1_000_000 + self.rng.range(0, 1_000);
        let epoch = format!("run-{}", self.runs.len());
        self.runs.push(ServerRun {
            epoch,
            floor,
            started: self.now,
        });
        self.head = floor;
    }

    /// Server head at simulated time `t`.
    /// (The current run's floor when nothing of it was published by then.)
    pub fn head_at(&self, t: u64) -> u64 {
        let n = self.publish_times.partition_point(|&(p, _)| p <= t);
        let floor = self.current_run().floor;
        if n == 0 {
            floor
        } else {
            self.publish_times[n - 1].1.max(floor)
        }
    }

    // ---- actions --------------------------------------------------------------------------

    pub fn act(&mut self, a: Action) {
        self.act_inner(a);
        for i in 0..self.tabs.len() {
            self.refresh_timer(i);
        }
    }

    fn act_inner(&mut self, a: Action) {
        if self.trace {
            println!("{:>10} action {a:?}", self.now - T0);
        }
        match a {
            Action::Open { visible } => {
                self.open_tab(visible);
            }
            Action::Close(i) => {
                self.note_leader_fault(i, "close");
                if self.tabs[i].is_live() {
                    self.deliver(i, Input::PageHide);
                    self.tabs[i].life = Life::Closed;
                    self.drop_tab_resources(i);
                }
            }
            Action::Crash(i) => {
                self.note_leader_fault(i, "crash");
                if self.tabs[i].is_present() {
                    self.tabs[i].life = Life::Crashed;
                    self.drop_tab_resources(i);
                }
            }
            Action::Freeze { tab, announced } => {
                self.note_leader_fault(tab, "freeze");
                if self.tabs[tab].is_live() {
                    if announced {
                        self.deliver(tab, Input::Frozen);
                    }
                    self.tabs[tab].life = Life::Frozen;
                }
            }
            Action::Thaw(i) => {
                if self.tabs[i].life == Life::Frozen {
                    self.tabs[i].life = Life::Running;
                    self.deliver(i, Input::Resumed);
                    while let Some(input) = self.tabs[i].inbox.pop_front() {
                        if self.tabs[i].life != Life::Running {
                            break;
                        }
                        self.deliver(i, input);
                    }
                }
            }
            Action::SetVisible(i, v) => {
                if self.tabs[i].is_live() {
                    self.tabs[i].visible = v;
                    self.tabs[i].hidden_since = if v { None } else { Some(self.now) };
                    self.deliver(i, Input::VisibilityChanged { visible: v });
                }
            }
            Action::Publish => self.publish(),
            Action::ServerDown => {
                self.server_up = false;
                for i in 0..self.tabs.len() {
                    if self.tabs[i].stream != ServerStream::Closed {
                        self.stream_send(i, Input::StreamError);
                    }
                }
            }
            Action::ServerUp => self.server_up = true,
            Action::Loss { until, p } => {
                // A lossy channel may cut the leader off: a partition.
                self.leader_faults.push((self.now, "partition"));
                self.leader_faults.push((until, "partition"));
                self.loss_until = until;
                self.loss_p = p;
            }
            Action::StepDown(i) => {
                self.note_leader_fault(i, "step-down");
                self.deliver(i, Input::StepDown)
            }
            Action::ServerRestart { down_us } => {
                self.restart_server();
                self.server_up = false;
                for i in 0..self.tabs.len() {
                    if self.tabs[i].stream != ServerStream::Closed {
                        self.stream_send(i, Input::StreamError);
                    }
                }
                self.at(self.now + down_us, Action::ServerUp);
            }
            Action::Busy { tab, until } => match tab {
                Some(i) => self.tabs[i].busy_until = self.tabs[i].busy_until.max(until),
                None => self.busy_all_until = self.busy_all_until.max(until),
            },
            Action::BfcacheLeave(i) => {
                self.note_leader_fault(i, "bfcache");
                if self.tabs[i].is_live() {
                    self.handle_now(i, Input::PageHide);
                    self.tabs[i].life = Life::Away;
                    self.tabs[i].timer_queued = false;
                    self.drop_tab_resources(i);
                }
            }
            Action::BfcacheReturn(i) => {
                if self.tabs[i].life == Life::Away {
                    self.tabs[i].life = Life::Running;
                    self.handle_now(i, Input::PageShow);
                }
            }
            Action::CloseLeader | Action::CrashLeader | Action::FreezeLeader { .. } => {
                let Some(l) = self.leader() else { return };
                let (kind, action) = match a {
                    Action::CloseLeader => ("close", Action::Close(l)),
                    Action::CrashLeader => ("crash", Action::Crash(l)),
                    Action::FreezeLeader { announced, for_us } => {
                        self.at(self.now + for_us, Action::Thaw(l));
                        (
                            if announced {
                                "freeze-announced"
                            } else {
                                "freeze"
                            },
                            Action::Freeze { tab: l, announced },
                        )
                    }
                    _ => unreachable!(),
                };
                // Hidden tabs' timers fire at 1 s boundaries: report those elections apart.
                let visible_left = (0..self.tabs.len())
                    .any(|i| i != l && self.tabs[i].is_live() && self.tabs[i].visible);
                let kind = match (kind, visible_left) {
                    (k, true) => k,
                    ("close", false) => "close (all hidden)",
                    ("crash", false) => "crash (all hidden)",
                    ("freeze", false) => "freeze (all hidden)",
                    (_, false) => "freeze-announced (all hidden)",
                };
                self.leader_loss = Some((self.now, kind, l));
                self.act_inner(action);
            }
        }
    }

    /// A fault hit tab `i`: if it leads (or is about to), a leadership change may follow.
    fn note_leader_fault(&mut self, i: usize, what: &'static str) {
        if i < self.tabs.len() && self.tabs[i].tab.role() == Role::Leader {
            self.leader_faults.push((self.now, what));
        }
    }

    /// Opens a tab now; returns its index.
    pub fn open_tab(&mut self, visible: bool) -> usize {
        let i = self.tabs.len();
        let skew = self.rng.range(0, 2 * self.cfg.max_skew) as i64 - self.cfg.max_skew as i64;
        let id = TabId(self.rng.next_u64() >> 1);
        let seed = self.rng.next_u64();
        let local = Instant((self.now as i64 + skew) as u64);
        let tab = coord::Tab::new(id, self.cfg.mechanism, self.cfg.core.clone(), local, seed);
        self.timers.push(None);
        self.tabs.push(SimTab {
            tab,
            life: Life::Running,
            visible: true,
            hidden_since: None,
            skew,
            created_at: self.now,
            inbox: VecDeque::new(),
            stream: ServerStream::Closed,
            stream_gen: 0,
            stream_fifo: 0,
            delivered_upto: None,
            delivered_epoch: None,
            lost_gap: false,
            baseline: None,
            joined_at: None,
            delivered: 0,
            resets: 0,
            lost: 0,
            latencies: Vec::new(),
            app_events: Vec::new(),
            record_app_events: false,
            busy_until: 0,
            busy_last: 0,
            timer_queued: false,
            received: 0,
        });
        self.drain(i);
        self.deliver(i, Input::Connect);
        if !visible {
            self.tabs[i].visible = false;
            self.tabs[i].hidden_since = Some(self.now);
            self.deliver(i, Input::VisibilityChanged { visible: false });
        }
        i
    }

    // ---- queries --------------------------------------------------------------------------

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

/// The name of a message's kind, for counting.
pub fn kind_of(body: &coord::Body) -> &'static str {
    use coord::Body::*;
    match body {
        Hello { .. } => "hello",
        Presence { .. } => "presence",
        Bye => "bye",
        Heartbeat { .. } => "heartbeat",
        Claim { .. } => "claim",
        Resign { .. } => "resign",
        Relay { .. } => "relay",
        Probe { .. } => "probe",
        Status { .. } => "status",
        Resend { .. } => "resend",
        Fence { .. } => "fence",
    }
}

pub fn device_event(id: u64) -> ServerEvent {
    ServerEvent::new(
        Some(id),
        "device-online",
        format!(
            r#"{{"id":{id},"device":"d{}","kind":"device-online"}}"#,
            id % 7
        ),
    )
}

pub fn reset_head(data: &str) -> u64 {
    let v: serde_json::Value = serde_json::from_str(data).expect("sim reset payload");
    v["head_id"].as_u64().expect("head_id")
}

pub fn reset_epoch(data: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(data).expect("sim reset payload");
    v["epoch"].as_str().expect("epoch").to_owned()
}
