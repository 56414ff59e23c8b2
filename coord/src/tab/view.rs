//! What the shell, the UI and tests read from a tab: identity, role and leader, position,
//! stream and reconnect state, the known tabs, counters, and the presence this tab reports.

use super::*;

impl Tab {
    pub fn id(&self) -> TabId {
        self.id
    }
    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }
    pub fn config(&self) -> &Config {
        &self.config
    }
    pub fn role(&self) -> Role {
        self.phase.role()
    }
    /// The tab we believe leads (ourselves when leading); `None` while electing.
    pub fn leader(&self) -> Option<TabId> {
        self.leader
    }
    /// The highest term seen (the fence).
    pub fn term(&self) -> Term {
        self.max_term
    }
    /// Our term while we lead.
    pub fn leading_term(&self) -> Option<Term> {
        match self.phase {
            Phase::Leader { term, .. } => Some(term),
            _ => None,
        }
    }
    /// Whether this tab leads.
    pub fn is_leader(&self) -> bool {
        matches!(self.phase, Phase::Leader { .. })
    }
    /// Highest event id delivered to the app (the resume point this tab reports).
    pub fn highest_id(&self) -> Option<u64> {
        self.log.highest()
    }
    /// Where this tab is in the stream: the run (epoch) and the highest id delivered (or covered
    /// by a reset). The epoch is empty when the server named none. `None`: no baseline yet.
    pub fn position(&self) -> Option<wire::Position> {
        let id = self.log.highest()?;
        Some(wire::Position::new(
            self.log.epoch().unwrap_or_default(),
            id,
        ))
    }
    /// Our own stream when leading, else the leader's as last reported.
    pub fn stream_state(&self) -> StreamState {
        match &self.phase {
            Phase::Leader { stream, .. } => stream.state(),
            _ => self.leader_stream,
        }
    }
    /// Whether this tab holds (or is opening) the server stream itself.
    pub fn holds_stream(&self) -> bool {
        matches!(&self.phase, Phase::Leader { stream, .. } if stream.holds())
    }
    /// The app-level connected state (identical on every tab).
    pub fn is_connected(&self) -> bool {
        self.connected
    }
    pub fn is_visible(&self) -> bool {
        self.visible
    }
    pub fn is_frozen(&self) -> bool {
        self.frozen
    }
    pub fn is_active(&self) -> bool {
        self.active
    }
    /// Current `Connect` minus `Disconnect` count.
    pub fn refs(&self) -> u32 {
        self.refs
    }
    /// The other tabs we know of (not including this one), by id.
    pub fn tabs(&self) -> impl Iterator<Item = &TabInfo> {
        self.registry.iter()
    }
    /// When the leader last proved it was alive (heartbeat, relay, status).
    pub fn last_heartbeat_at(&self) -> Option<Instant> {
        self.last_heartbeat_at
    }
    pub fn reconnect(&self) -> ReconnectInfo {
        ReconnectInfo {
            failures: self.backoff.failures(),
            next_attempt: self.timers.get(Timer::Reconnect),
            retry_hint: self.retry_hint,
        }
    }
    pub fn stats(&self) -> Stats {
        Stats {
            duplicates: self.log.duplicates,
            ..self.stats
        }
    }
    /// What this tab says about itself in presence messages.
    pub fn info(&self) -> PeerInfo {
        PeerInfo {
            role: self.role(),
            visible: self.visible,
            highest_id: self.log.highest(),
            epoch: self.log.epoch().map(str::to_owned),
            term: self.max_term,
        }
    }
}
