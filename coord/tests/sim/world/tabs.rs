//! The browser's side of each tab: its life (running, frozen, away, gone), a busy main thread
//! that delays inputs in order, handing inputs to the core and performing its outputs, and the
//! per-tab delivery bookkeeping the invariants check (exactly once per run).
use std::collections::VecDeque;

use coord::{AppEvent, Input, Instant, Message, Output, Role, TabId};

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Life {
    Running,
    Frozen,
    /// In the back/forward cache (after `PageHide`): receives nothing until `PageShow`.
    Away,
    Closed,
    Crashed,
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

impl World {
    /// When a busy tab gets to an input arriving now (`None`: not busy, at once).
    pub(super) fn busy_at(&mut self, i: usize) -> Option<u64> {
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
    pub(super) fn deliver(&mut self, i: usize, input: Input) {
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
    pub(super) fn handle_now(&mut self, i: usize, input: Input) {
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

    pub(super) fn handle_stream_input(&mut self, tab: usize, input: Input) {
        if input == Input::StreamError {
            self.tabs[tab].stream = ServerStream::Closed; // the shell closes it
        }
        self.handle_now(tab, input);
    }

    pub(super) fn run_timers(&mut self, i: usize) {
        let now = self.tabs[i].local(self.now);
        if self.trace {
            let slow = self.tabs[i].tab.slowness_estimate(now);
            println!("{:>10} timer tab {i} (slowness {slow:?})", self.now - T0);
        }
        self.tabs[i].tab.handle_timeout(now);
        self.drain(i);
    }

    /// Performs every output of tab `i`.
    pub(super) fn drain(&mut self, i: usize) {
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

    /// **Delivery, exactly once per run**: within a run each id once and in order; the first
    /// event of a new run only after a `Reset` of that run (or a `Lost` notice).
    pub(super) fn record_emit(&mut self, i: usize, e: AppEvent) {
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
    pub(super) fn sync_baselines(&mut self) {
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
}
