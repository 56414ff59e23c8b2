//! The leader's server stream, and the events every tab delivers: dedupe, gaps, resends.

use super::*;
use crate::Relayed;

/// Relays a leader holds for hidden tabs (see `Config::hidden_relay_batch`), all of one term and
/// one run.
#[derive(Debug)]
pub(super) struct RelayBatch {
    term: Term,
    epoch: Option<String>,
    events: Vec<Relayed>,
}

/// A batch is posted once it holds this many events, whatever its deadline: a message stays a
/// few kilobytes.
const RELAY_BATCH_MAX: usize = 64;

impl Tab {
    /// The position to resume from: the lowest highest-id reported by a tab heard from recently
    /// (and ours), among the positions of **one** run only: ours if we have one, else the run of
    /// the most recent report. Ids of two runs are never compared; a tab of another run catches up
    /// through resend → rewind → `reset`. Reports only lag behind the truth, so this never skips
    /// an event such a tab still needs; the duplicates it causes are dropped by id everywhere,
    /// and a `reset` it may cause is ignored by every tab already past its `head_id`. Tabs silent
    /// for longer than `Config::resume_report_max_age` (frozen, or hidden for minutes) are left
    /// out so that one sleeping tab does not make every new leader replay from far back: when it
    /// wakes up it sees the gap and asks for a resend like any follower.
    pub(super) fn resume_point(&self, now: Instant) -> Option<wire::Position> {
        // Beyond `presence_budget` tabs a report may be a stretched presence interval old.
        let max_age = self
            .config
            .resume_report_max_age
            .max(self.presence_every().mul_f64(1.5));
        let fresh = || {
            self.registry
                .iter()
                .filter(move |t| now.saturating_since(t.last_seen) <= max_age)
                .filter(|t| t.info.highest_id.is_some())
        };
        let epoch: Option<&str> = match self.log.highest() {
            Some(_) => self.log.epoch(),
            None => fresh()
                .max_by_key(|t| t.last_seen)
                .map(|t| t.info.epoch.as_deref())?,
        };
        let id = fresh()
            .filter(|t| t.info.epoch.as_deref() == epoch)
            .filter_map(|t| t.info.highest_id)
            .chain(self.log.highest())
            .min()?;
        Some(wire::Position::new(epoch.unwrap_or_default(), id))
    }

    /// Leader: reopens the stream from the resume point (a reconnect).
    pub(super) fn open_stream(&mut self, now: Instant) {
        let resume = self.resume_point(now);
        self.start_stream(resume);
    }

    /// Leader: opens (or reopens) the stream from `resume`. The stream's `epoch` stays until the
    /// new connection's `hello`: a late event of the old one still belongs to the old run.
    fn start_stream(&mut self, resume: Option<wire::Position>) {
        let Phase::Leader { stream, .. } = &mut self.phase else {
            return;
        };
        stream.link = Link::Connecting;
        stream.opened_from = resume.clone();
        self.timers.stop(Timer::Reconnect);
        self.out.push_back(Output::OpenStream { resume });
    }

    pub(super) fn retry_now(&mut self, now: Instant) {
        if matches!(&self.phase, Phase::Leader { stream, .. } if stream.link == Link::Backoff) {
            self.open_stream(now);
        }
    }

    pub(super) fn on_stream_opened(&mut self) {
        match &mut self.phase {
            Phase::Leader { stream, .. } if stream.link == Link::Connecting => {
                stream.link = Link::Open;
            }
            _ => {
                self.stats.ignored_stream_inputs += 1;
                return;
            }
        }
        self.backoff.reset();
        self.set_connected(true);
        self.post_status(StreamStatus::Connected);
    }

    pub(super) fn on_stream_event(&mut self, now: Instant, event: ServerEvent) {
        let (term, epoch, connecting, prev) = match &mut self.phase {
            Phase::Leader { term, stream, .. } if stream.holds() => {
                if event.id.is_none() && event.name == relay::names::HELLO {
                    // The run of everything this connection sends: relayed with each event.
                    let hello = relay::parse_hello(&event.data);
                    let resumed = stream
                        .opened_from
                        .as_ref()
                        .is_some_and(|p| Some(p.epoch.as_str()) == hello.epoch.as_deref());
                    if !resumed {
                        // Live from the head of this run: what follows comes after it.
                        stream.prev = hello.head_id;
                    }
                    stream.epoch = hello.epoch;
                }
                if event.id.is_none() && event.name == relay::names::RESET {
                    stream.prev = relay::reset_head(&event.data);
                }
                let prev = event.id.and(stream.prev);
                if event.id.is_some() {
                    stream.prev = event.id;
                }
                (
                    *term,
                    stream.epoch.clone(),
                    stream.link == Link::Connecting,
                    prev,
                )
            }
            _ => {
                self.stats.ignored_stream_inputs += 1;
                return;
            }
        };
        if connecting {
            self.on_stream_opened(); // some shells see the first message before `open`
        }
        self.relay(now, term, event.clone(), epoch.clone(), prev);
        self.stats.relayed_out += 1;
        self.process_event(now, event, None, epoch.as_deref(), prev);
    }

    /// Leader: relays one event of its stream to the other tabs: in the next batch when every
    /// one of them is hidden (`Config::hidden_relay_batch`), else at once.
    fn relay(
        &mut self,
        now: Instant,
        term: Term,
        event: ServerEvent,
        epoch: Option<String>,
        prev: Option<u64>,
    ) {
        // Alone, a leader relays as it reads (a tab that opens hears every event at once).
        let batch = !self.config.hidden_relay_batch.is_zero()
            && self.registry.len() > 0
            && !self.registry.iter().any(|tab| tab.info.visible);
        if !batch {
            self.post(Body::Relay {
                term,
                event,
                sent_at: now,
                epoch,
                prev,
            });
            return;
        }
        // One batch is one run of one term.
        if self
            .relay_batch
            .as_ref()
            .is_some_and(|b| b.term != term || b.epoch != epoch)
        {
            self.flush_relays();
        }
        let due = now + self.config.hidden_relay_batch;
        let batch = self.relay_batch.get_or_insert_with(|| RelayBatch {
            term,
            epoch,
            events: Vec::new(),
        });
        batch.events.push(Relayed {
            event,
            prev,
            sent_at: now,
        });
        // Due, or full: posted now. (Due and not yet posted: this tab's timers are throttled,
        // hidden without the shell's worker timer; the events that keep coming post it.)
        let first = batch.events[0].sent_at;
        let full = batch.events.len() >= RELAY_BATCH_MAX;
        if full || now >= first + self.config.hidden_relay_batch {
            self.flush_relays();
        } else if !self.timers.is_set(Timer::RelayBatch) {
            self.timers.set(Timer::RelayBatch, due);
        }
    }

    /// The relays held for hidden tabs, as the body that posts them, while we lead their term
    /// (what `flush_relays` would post now).
    pub(super) fn held_relays(&self) -> Option<Body> {
        let batch = self.relay_batch.as_ref()?;
        (self.leading_term() == Some(batch.term)).then(|| Body::Relays {
            term: batch.term,
            epoch: batch.epoch.clone(),
            events: batch.events.clone(),
        })
    }

    /// Posts the batched relays, if any (before any other message, see `Tab::post`).
    pub(super) fn flush_relays(&mut self) {
        let Some(batch) = self.relay_batch.take() else {
            return;
        };
        self.timers.stop(Timer::RelayBatch);
        if self.leading_term() != Some(batch.term) {
            return; // see `step_down`: never under a term we no longer lead
        }
        self.out.push_back(Output::Post(Message {
            from: self.id,
            body: Body::Relays {
                term: batch.term,
                epoch: batch.epoch,
                events: batch.events,
            },
        }));
    }

    pub(super) fn on_stream_error(&mut self, now: Instant) {
        let Phase::Leader { stream, .. } = &mut self.phase else {
            self.stats.ignored_stream_inputs += 1;
            return;
        };
        stream.link = Link::Backoff;
        self.stream_trouble(now);
        let base = self.retry_hint.unwrap_or(self.config.backoff_base);
        let delay = self
            .backoff
            .next_delay(&mut self.rng, base, self.config.backoff_cap);
        self.timers.set(Timer::Reconnect, now + delay);
        self.connected = false;
        self.emit(AppEvent::Error);
        self.post_status(StreamStatus::Error);
        if self.backoff.failures() == self.config.max_reconnect_attempts {
            self.emit(AppEvent::MaxReconnectReached);
            self.post_status(StreamStatus::MaxReconnectReached);
        }
    }

    pub(super) fn post_status(&mut self, status: StreamStatus) {
        if let Some(term) = self.leading_term() {
            self.post(Body::Status { term, status });
        }
    }

    // ---- events ----------------------------------------------------------------------------

    /// Dedupe, order, deliver; shared by the leader (from the stream) and followers (relays).
    /// `epoch`: the run the event belongs to (the stream's, from its `hello`).
    pub(super) fn process_event(
        &mut self,
        now: Instant,
        event: ServerEvent,
        latency: Option<Duration>,
        epoch: Option<&str>,
        prev: Option<u64>,
    ) {
        let relayed = latency.is_some();
        self.timeline_saw_event(now, &event);
        if event.id.is_none() && event.name == relay::names::HELLO {
            let hello = relay::parse_hello(&event.data);
            if let Some(ms) = hello.retry_ms {
                self.retry_hint = Some(Duration::from_millis(ms));
            }
            // A tab without any event yet starts at the server's head: what follows is live, and
            // a reconnect after an outage then resumes from there instead of losing the outage.
            // Not when the leader resumed from a position: from it (same run) the server replays,
            // and for a position of another run it sends a `reset` right after, the baseline.
            // A tab that has a position keeps it: a `hello` of another run never moves it (ids of
            // two runs are not compared); the `reset` does.
            // (Only a leader reads its stream; what followers get is relayed.)
            let opened_from = match &self.phase {
                Phase::Leader { stream, .. } => stream.opened_from.as_ref(),
                _ => None,
            };
            let baseline = match (opened_from, relayed) {
                (None, _) | (_, true) => hello.head_id,
                (Some(p), false) if Some(p.epoch.as_str()) == hello.epoch.as_deref() => Some(p.id),
                (Some(_), false) => None,
            };
            if let Some(id) = baseline {
                self.log.set_baseline(hello.epoch.as_deref(), id);
            }
        }
        let epoch_before = self.log.epoch().map(str::to_owned);
        for d in self.log.accept(event, epoch, prev) {
            self.timeline_delivered(now, &d, epoch_before.as_deref());
            self.emit(match d {
                Delivery::Event(event) => AppEvent::Event {
                    event,
                    relayed,
                    latency,
                },
                Delivery::Reset(event) => AppEvent::Reset { event, relayed },
                Delivery::Lost { from, to } => AppEvent::Lost { from, to },
            });
        }
        if !self.log.has_gap() {
            self.timers.stop(Timer::Resend);
        } else if !self.timers.is_set(Timer::Resend) {
            self.request_resend(now);
        }
    }

    /// We have a gap (or events of another run wait for its `reset`): a follower asks the leader
    /// from its position; the leader re-reads the stream from it.
    pub(super) fn request_resend(&mut self, now: Instant) {
        let Some(position) = self.position() else {
            return;
        };
        self.timers
            .set(Timer::Resend, now + self.config.resend_timeout);
        if self.is_leader() {
            self.rewind(now, position);
        } else if self.leader.is_some() {
            self.stats.resend_requests += 1;
            self.post(Body::Resend {
                term: self.max_term,
                epoch: self.log.epoch().map(str::to_owned),
                after: position.id,
            });
        }
    }

    /// A follower asks for the events of run `epoch` after `after`: from our ring when it is our
    /// run and reaches back; else we reopen the stream from that position, so that the server
    /// replays (same run) or sends a fresh `reset` (another run), which every tab gets.
    pub(super) fn serve_resend(&mut self, now: Instant, epoch: Option<String>, after: u64) {
        let Some(term) = self.leading_term() else {
            return;
        };
        match self.log.since_in(epoch.as_deref(), after) {
            Some(events) => {
                let epoch = self.log.epoch().map(str::to_owned);
                for (event, prev) in events {
                    self.post(Body::Relay {
                        term,
                        event,
                        sent_at: now,
                        epoch: epoch.clone(),
                        prev,
                    });
                    self.stats.relayed_out += 1;
                }
            }
            None => self.rewind(now, wire::Position::new(epoch.unwrap_or_default(), after)),
        }
    }

    /// Reopen the stream from `from` so the server replays (or resets) what someone missed.
    pub(super) fn rewind(&mut self, now: Instant, from: wire::Position) {
        if !self.holds_stream() {
            return; // the next (re)connect resumes from the lowest reported id anyway
        }
        if self
            .last_rewind
            .is_some_and(|t| now < t + self.config.resend_timeout)
        {
            return;
        }
        self.last_rewind = Some(now);
        self.stats.rewinds += 1;
        self.start_stream(Some(from));
    }
}
