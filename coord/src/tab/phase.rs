//! Where a tab stands in the election. Only [`Phase::Leader`] has a term and a server stream, so
//! "we lead, hence our term and our stream exist" is a match, never an `Option` to trust; only
//! [`Phase::Electing`] has a candidacy's claim.

use super::timer::Timer;
use super::Tab;
use crate::{Role, StreamState, TabId, Term};

/// The tab's phase. Who we believe leads is `Tab::leader` (a belief every phase has: an electing
/// tab may know the claimant, and a follower whose leader said goodbye (Locks) waits for the lock
/// queue's next holder without knowing it).
#[derive(Debug)]
pub(super) enum Phase {
    /// No leader known, or an election under way.
    Electing {
        /// The leader presumed dead when our candidacy was scheduled (it is not expected to ack
        /// our claim).
        dead: Option<TabId>,
        /// Protocol: our pending claim (its window is `Timer::ClaimWindow`).
        claim: Option<Claim>,
    },
    /// A leader's messages are accepted.
    Follower,
    /// We lead `term` and hold the server stream.
    Leader {
        term: Term,
        stream: LeaderStream,
        /// Locks: we hold the Web Lock (a Protocol leader holds none).
        holds_lock: bool,
    },
}

impl Phase {
    /// Electing, with no candidacy yet.
    pub(super) fn electing() -> Phase {
        Phase::Electing {
            dead: None,
            claim: None,
        }
    }

    pub(super) fn role(&self) -> Role {
        match self {
            Phase::Electing { .. } => Role::Electing,
            Phase::Follower => Role::Follower,
            Phase::Leader { .. } => Role::Leader,
        }
    }
}

/// The leader's server stream: opened when the tab starts to lead, closed when it stops.
#[derive(Debug)]
pub(super) struct LeaderStream {
    pub(super) link: Link,
    /// The run (epoch) of the connection now open, from its `hello` (it stays until the next
    /// connection's `hello`: a late event of the old one still belongs to the old run).
    pub(super) epoch: Option<String>,
    /// The position the stream was (re)opened from (`None`: live from the head).
    pub(super) opened_from: Option<wire::Position>,
    /// The id of the last numbered event this connection gave (or the position it started
    /// from): relayed as each next event's `prev` (see `relay`).
    pub(super) prev: Option<u64>,
}

/// The state of the leader's connection (a leader's stream is never closed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Link {
    Connecting,
    Open,
    /// Failed; a reconnect is scheduled (`Timer::Reconnect`).
    Backoff,
}

impl LeaderStream {
    /// A stream being opened from `resume`.
    pub(super) fn connecting(resume: Option<wire::Position>) -> Self {
        Self {
            link: Link::Connecting,
            epoch: None,
            prev: resume.as_ref().map(|p| p.id),
            opened_from: resume,
        }
    }

    /// Whether the connection is open or being opened (not in backoff).
    pub(super) fn holds(&self) -> bool {
        matches!(self.link, Link::Connecting | Link::Open)
    }

    pub(super) fn state(&self) -> StreamState {
        match self.link {
            Link::Connecting => StreamState::Connecting,
            Link::Open => StreamState::Open,
            Link::Backoff => StreamState::Backoff,
        }
    }
}

/// A pending Protocol claim.
#[derive(Debug, Clone)]
pub(super) struct Claim {
    pub(super) term: Term,
    /// Tabs that reported our term since we claimed, each once (a handful: no set type, whose
    /// code the browser's bundle would carry).
    pub(super) acks: Vec<TabId>,
}

impl Tab {
    /// Whether we hold the Web Lock (only a leader does).
    pub(super) fn holds_lock(&self) -> bool {
        matches!(
            self.phase,
            Phase::Leader {
                holds_lock: true,
                ..
            }
        )
    }

    /// Our pending claim, if we are electing and claimed.
    pub(super) fn claim(&self) -> Option<&Claim> {
        match &self.phase {
            Phase::Electing { claim, .. } => claim.as_ref(),
            _ => None,
        }
    }

    /// Gives up (or takes) our pending claim, and its window.
    pub(super) fn drop_claim(&mut self) -> Option<Claim> {
        self.timers.stop(Timer::ClaimWindow);
        match &mut self.phase {
            Phase::Electing { claim, .. } => claim.take(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{Body, Config, Input, Instant, Mechanism, Message, Output, Role, Tab, TabId, Term};

    fn drain(tab: &mut Tab) -> Vec<Output> {
        std::iter::from_fn(|| tab.poll_output()).collect()
    }

    #[test]
    fn a_leader_alone_has_a_term_a_stream_and_the_lock_and_gives_all_up_together() {
        let now = Instant::from_millis(1_000);
        let mut tab = Tab::new(TabId(5), Mechanism::Locks, Config::default(), now, 1);
        tab.handle(now, Input::Connect);
        assert_eq!(tab.leading_term(), None);
        assert!(!tab.holds_stream() && !tab.holds_lock());
        drain(&mut tab);

        tab.handle(now, Input::LockGranted);
        let term = tab.leading_term().expect("a granted lock leads");
        assert!(tab.is_leader() && tab.holds_stream() && tab.holds_lock());
        assert!(drain(&mut tab).contains(&Output::OpenStream { resume: None }));

        // A higher term (another tab stole the lock while we were frozen): everything goes at once,
        // in the order the shell must carry out.
        let higher = Term {
            n: term.n + 1,
            tab: TabId(9),
        };
        let fence = Message::new(TabId(9), Body::Fence { term: higher });
        tab.handle(now, Input::Channel(fence));
        assert_eq!(tab.leading_term(), None);
        assert!(!tab.is_leader() && !tab.holds_stream() && !tab.holds_lock());
        assert_eq!(tab.role(), Role::Follower);
        let outputs = drain(&mut tab);
        let at = |wanted: &Output| outputs.iter().position(|o| o == wanted);
        let close = at(&Output::CloseStream).expect("the stream closes");
        let release = at(&Output::ReleaseLock).expect("the lock is released");
        let requeue = at(&Output::RequestLock { steal: false }).expect("and requested again");
        let role = at(&Output::Emit(crate::AppEvent::RoleChanged(Role::Follower)));
        assert!(close < release && release < requeue && Some(requeue) < role);
    }
}
