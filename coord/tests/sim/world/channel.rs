//! The BroadcastChannel: every post reaches every other present tab after a random delay, in
//! order per sender and receiver, unless a lossy period drops it.
use coord::{Input, Message};

use super::*;

impl World {
    pub(super) fn broadcast(&mut self, from: usize, m: Message) {
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
        Relays { .. } => "relays",
        Probe { .. } => "probe",
        Status { .. } => "status",
        Resend { .. } => "resend",
        Fence { .. } => "fence",
    }
}
