//! What the hub sends every stream on its fan-out channel: the next event, or a `reset` and why.
//! Its own module so that the hub and the writers of `direct_shard`, which the hub
//! starts, can both name it without importing each other.

use crate::metrics::ResetReason;
use crate::replay::Frame;

/// What every stream receives on the fan-out channel.
#[derive(Debug, Clone)]
pub enum Live {
    /// The next event of the current run.
    Event(Frame),
    /// The log moved on without this hub seeing each event (a new run, events lost on the way
    /// from a remote bus): every stream is sent a `reset` with the snapshot.
    Reset(ResetCause),
}

/// Why a stream is sent a `reset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResetCause {
    /// Its resume point could not be replayed ([`wire::resume`] said so).
    Resume(wire::ResetReason),
    /// It read too slowly and fell behind the live channel.
    Lagged,
    /// The events since the hub's head were lost on their way to this replica (a remote log
    /// trimmed them while the replica could not read it).
    Lost,
}

impl ResetCause {
    /// The metrics label of a stream's reset, whatever caused it.
    pub fn metric(self) -> ResetReason {
        match self {
            Self::Resume(reason) => ResetReason::of_resume(reason),
            Self::Lagged | Self::Lost => ResetReason::Lagged,
        }
    }

    /// The `reason` of the `reset` payload.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Resume(reason) => reason.describe(),
            Self::Lagged => "stream fell behind the live events",
            Self::Lost => "events were lost on the way to this server replica",
        }
    }
}
