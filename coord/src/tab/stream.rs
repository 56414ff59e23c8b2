//! The leader's server stream, and the events every tab delivers: dedupe, gaps, resends.

use super::*;

impl Tab {
    /// The id to resume from: the lowest highest-id reported by a tab heard from recently (and
    /// ours). Reports only lag behind the truth, so this never skips an event such a tab still
    /// needs; the duplicates it causes are dropped by id everywhere, and a `reset` it may cause is
    /// ignored by every tab already past its `head_id`. Tabs silent for longer than
    /// `Config::resume_report_max_age` (frozen, or hidden for minutes) are left out so that one
    /// sleeping tab does not make every new leader replay from far back: when it wakes up it sees
    /// the gap and asks for a resend like any follower.
    pub(super) fn resume_point(&self, now: Instant) -> Option<u64> {
        let max_age = self.config.resume_report_max_age;
        self.registry
            .iter()
            .filter(|t| now.saturating_since(t.last_seen) <= max_age)
            .filter_map(|t| t.info.highest_id)
            .chain(self.log.highest())
            .min()
    }

    pub(super) fn open_stream(&mut self, now: Instant) {
        let last_event_id = self.resume_point(now);
        self.stream = StreamState::Connecting;
        self.reconnect_at = None;
        self.out.push_back(Output::OpenStream { last_event_id });
    }

    pub(super) fn close_stream(&mut self) {
        if self.stream != StreamState::Closed {
            self.out.push_back(Output::CloseStream);
            self.stream = StreamState::Closed;
        }
        self.reconnect_at = None;
    }

    pub(super) fn retry_now(&mut self, now: Instant) {
        if self.role == Role::Leader && self.stream == StreamState::Backoff {
            self.open_stream(now);
        }
    }

    pub(super) fn on_stream_opened(&mut self) {
        if self.role != Role::Leader || self.stream != StreamState::Connecting {
            self.stats.ignored_stream_inputs += 1;
            return;
        }
        self.stream = StreamState::Open;
        self.backoff.reset();
        self.set_connected(true);
        self.post_status(StreamStatus::Connected);
    }

    pub(super) fn on_stream_event(&mut self, now: Instant, event: ServerEvent) {
        if self.role != Role::Leader || !self.holds_stream() {
            self.stats.ignored_stream_inputs += 1;
            return;
        }
        if self.stream == StreamState::Connecting {
            self.on_stream_opened(); // some shells see the first message before `open`
        }
        let term = self.my_term.expect("a leader has a term");
        self.post(Body::Relay {
            term,
            event: event.clone(),
            sent_at: now,
        });
        self.stats.relayed_out += 1;
        self.process_event(now, event, None);
    }

    pub(super) fn on_stream_error(&mut self, now: Instant) {
        if self.role != Role::Leader || self.stream == StreamState::Closed {
            self.stats.ignored_stream_inputs += 1;
            return;
        }
        self.stream = StreamState::Backoff;
        let base = self.retry_hint.unwrap_or(self.config.backoff_base);
        let delay = self
            .backoff
            .next_delay(&mut self.rng, base, self.config.backoff_cap);
        self.reconnect_at = Some(now + delay);
        self.connected = false;
        self.emit(AppEvent::Error);
        self.post_status(StreamStatus::Error);
        if self.backoff.failures() == self.config.max_reconnect_attempts {
            self.emit(AppEvent::MaxReconnectReached);
            self.post_status(StreamStatus::MaxReconnectReached);
        }
    }

    pub(super) fn post_status(&mut self, status: StreamStatus) {
        if let Some(term) = self.my_term {
            self.post(Body::Status { term, status });
        }
    }

    // ---- events ----------------------------------------------------------------------------

    /// Dedupe, order, deliver; shared by the leader (from the stream) and followers (relays).
    pub(super) fn process_event(
        &mut self,
        now: Instant,
        event: ServerEvent,
        latency: Option<Duration>,
    ) {
        if event.id.is_none() && event.name == relay::names::HELLO {
            let hello = relay::parse_hello(&event.data);
            if let Some(ms) = hello.retry_ms {
                self.retry_hint = Some(Duration::from_millis(ms));
            }
            if let Some(instance) = hello.instance {
                if self
                    .instance
                    .as_ref()
                    .is_some_and(|known| *known != instance)
                {
                    self.log.forget(); // the server restarted: its ids start again
                }
                self.instance = Some(instance);
            }
            // A tab without any event yet starts at the server's head: what follows is live, and
            // a reconnect after an outage then resumes from there instead of losing the outage.
            if let Some(head) = hello.head_id {
                self.log.set_baseline(head);
            }
        }
        let relayed = latency.is_some();
        for d in self.log.accept(event) {
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
            self.resend_deadline = None;
        } else if self.resend_deadline.is_none() {
            self.request_resend(now);
        }
    }

    /// We have a gap: a follower asks the leader; the leader re-reads the stream from it.
    pub(super) fn request_resend(&mut self, now: Instant) {
        let Some(after) = self.log.highest() else {
            return;
        };
        self.resend_deadline = Some(now + self.config.resend_timeout);
        if self.role == Role::Leader {
            self.rewind(now, after);
        } else if self.leader.is_some() {
            self.stats.resend_requests += 1;
            self.post(Body::Resend {
                term: self.max_term,
                after,
            });
        }
    }

    pub(super) fn serve_resend(&mut self, now: Instant, after: u64) {
        let Some(term) = self.my_term else { return };
        match self.log.since(after) {
            Some(events) => {
                for event in events {
                    self.post(Body::Relay {
                        term,
                        event,
                        sent_at: now,
                    });
                    self.stats.relayed_out += 1;
                }
            }
            None => self.rewind(now, after),
        }
    }

    /// Reopen the stream from `after` so the server replays (or resets) what someone missed.
    pub(super) fn rewind(&mut self, now: Instant, after: u64) {
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
        self.stream = StreamState::Connecting;
        self.out.push_back(Output::OpenStream {
            last_event_id: Some(after),
        });
    }
}
