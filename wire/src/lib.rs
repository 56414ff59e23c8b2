//! Stream positions and the one rule that decides what a resuming reader is sent.
//!
//! A position in tabrelay's event stream is `(epoch, id)`:
//!
//! * the **epoch** names one *run* of the event log: a server process with the embedded bus, or
//!   one life of the Redis stream with several replicas. It changes whenever history may be gone
//!   (a restart, a Redis that lost its data). Ids of two epochs are never compared.
//! * the **id** is the SSE `id:` of a numbered event: a decimal integer, strictly increasing, and
//!   never repeated across the runs of one deployment. A new run starts its ids above its
//!   *floor*, taken from the wall clock in microseconds ([`floor_for_new_run`]), so the ids of a
//!   run are all above those of the runs before it (unless a run published more than one event
//!   per microsecond on average, or the clock went back).
//!
//! | module | what |
//! |---|---|
//! | (root) | [`Position`], [`LogView`], [`ResumeRequest`], [`resume`], [`floor_for_new_run`]: positions and the resume rule |
//! | [`model`] | the wire model: every SSE payload and API body ([`model::DeviceEvent`], [`model::Stats`], [`model::Hello`], [`model::Reset`] …), [`model::event_name`], the header names |
//! | [`mode`] | [`Mode`], how a tab reaches the server (`?mode=`), for the client and the server alike |
//! | [`json`] | a small strict JSON reader and writer: how the browser reads the model (and the tabs' channel messages) without linking `serde_json` |
//!
//! The only dependency is `serde` (derive), for the model, and there is no IO: the server
//! ([`resume`] over its replay buffer or the Redis stream) and the tab core's simulator (its model
//! of the server) call the same function, so the simulator cannot drift from the real server's
//! rules.
//!
//! ```
//! use wire::{resume, LogView, Resume, ResumeRequest, ResetReason};
//!
//! let log = LogView { epoch: "e1", floor: 100, head: 110, oldest: Some(105) };
//! // Saw up to 107 of this run: replay 108..=110.
//! assert_eq!(resume(&log, Some(ResumeRequest { epoch: Some("e1"), last_id: 107 })), Resume::Replay { after: 107 });
//! // A position from another run is never replayed into this one.
//! assert_eq!(resume(&log, Some(ResumeRequest { epoch: Some("e0"), last_id: 107 })), Resume::Reset(ResetReason::OtherRun));
//! // Older than what is still held: a snapshot instead.
//! assert_eq!(resume(&log, Some(ResumeRequest { epoch: Some("e1"), last_id: 101 })), Resume::Reset(ResetReason::TooOld));
//! ```

pub mod json;
pub mod mode;
pub mod model;
mod model_json;

pub use mode::{Mode, UnknownMode};

/// The largest id a browser holds exactly: JavaScript numbers are doubles (2^53 - 1).
pub const MAX_SAFE_ID: u64 = (1 << 53) - 1;

/// Where a reader of the stream is: the run and the last id it has (or the head it was told of).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Position {
    pub epoch: String,
    pub id: u64,
}

impl Position {
    pub fn new(epoch: impl Into<String>, id: u64) -> Self {
        Self {
            epoch: epoch.into(),
            id,
        }
    }

    /// As a resume request.
    pub fn as_request(&self) -> ResumeRequest<'_> {
        ResumeRequest {
            epoch: Some(&self.epoch),
            last_id: self.id,
        }
    }
}

/// What the log holds now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogView<'a> {
    /// The current run.
    pub epoch: &'a str,
    /// Every id of this run is above the floor (the first one is `floor + 1`).
    pub floor: u64,
    /// The newest id; equal to `floor` while the run has published nothing.
    pub head: u64,
    /// The oldest id still held for replay (`None`: nothing held).
    pub oldest: Option<u64>,
}

/// A reader's resume point: `Last-Event-ID` (or `?last_event_id=`), and `?epoch=` when it knows
/// the run its id belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResumeRequest<'a> {
    pub epoch: Option<&'a str>,
    pub last_id: u64,
}

/// Why a reader gets a snapshot (`reset`) instead of a replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResetReason {
    /// The position belongs to another run (its epoch differs, or its id is below this run's
    /// floor): the ids are not comparable, the reader must start again from a snapshot.
    OtherRun,
    /// The id is above the newest one of this run.
    Ahead,
    /// The events after the id are no longer held.
    TooOld,
}

impl ResetReason {
    /// For people reading logs, and the `reason` of a `reset` event.
    pub fn describe(self) -> &'static str {
        match self {
            Self::OtherRun => {
                "resume point is from another run of the event log (restart or lost history)"
            }
            Self::Ahead => "resume point is ahead of the newest event",
            Self::TooOld => "resume point is older than the events still held",
        }
    }

    /// A short stable label (metrics, tests).
    pub fn label(self) -> &'static str {
        match self {
            Self::OtherRun => "other_run",
            Self::Ahead => "ahead",
            Self::TooOld => "too_old",
        }
    }
}

/// What a reader resuming with `request` is sent before it goes live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// Nothing was missed (or the reader asked for no replay): live from the head on.
    UpToDate,
    /// Every held event with an id above `after`, oldest first; then live.
    Replay { after: u64 },
    /// A snapshot (`reset`) current to the head; then live.
    Reset(ResetReason),
}

/// The resume rule. `None`: a reader with no position goes live from the head.
///
/// A request without an epoch (a browser's own `EventSource` reconnect sends only
/// `Last-Event-ID`) is judged by its id alone: ids never repeat across runs, so an id below this
/// run's floor is from another run.
pub fn resume(log: &LogView<'_>, request: Option<ResumeRequest<'_>>) -> Resume {
    let Some(request) = request else {
        return Resume::UpToDate;
    };
    if request.epoch.is_some_and(|e| e != log.epoch) || request.last_id < log.floor {
        return Resume::Reset(ResetReason::OtherRun);
    }
    let last = request.last_id;
    if last > log.head {
        return Resume::Reset(ResetReason::Ahead);
    }
    if last == log.head {
        return Resume::UpToDate;
    }
    match log.oldest {
        Some(oldest) if oldest <= last + 1 => Resume::Replay { after: last },
        _ => Resume::Reset(ResetReason::TooOld),
    }
}

/// The floor of a run that starts at `unix_micros` (microseconds since the Unix epoch): its
/// first id is the floor + 1. Taken from the clock so that ids never repeat across runs without
/// anything stored; at most [`MAX_SAFE_ID`] so every browser holds ids exactly (until 2255).
pub fn floor_for_new_run(unix_micros: u64) -> u64 {
    unix_micros.min(MAX_SAFE_ID / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: LogView<'static> = LogView {
        epoch: "b",
        floor: 1_000,
        head: 1_010,
        oldest: Some(1_004),
    };

    fn req(epoch: Option<&str>, last_id: u64) -> Option<ResumeRequest<'_>> {
        Some(ResumeRequest { epoch, last_id })
    }

    #[test]
    fn no_position_is_live_only() {
        assert_eq!(resume(&LOG, None), Resume::UpToDate);
    }

    #[test]
    fn same_run_replays_what_is_held() {
        assert_eq!(
            resume(&LOG, req(Some("b"), 1_003)),
            Resume::Replay { after: 1_003 }
        );
        assert_eq!(
            resume(&LOG, req(Some("b"), 1_009)),
            Resume::Replay { after: 1_009 }
        );
        assert_eq!(resume(&LOG, req(Some("b"), 1_010)), Resume::UpToDate);
        assert_eq!(
            resume(&LOG, req(None, 1_005)),
            Resume::Replay { after: 1_005 }
        );
    }

    #[test]
    fn other_run_is_a_reset_even_when_the_id_would_fit() {
        assert_eq!(
            resume(&LOG, req(Some("a"), 1_005)),
            Resume::Reset(ResetReason::OtherRun)
        );
        assert_eq!(
            resume(&LOG, req(Some("a"), 1_010)),
            Resume::Reset(ResetReason::OtherRun)
        );
        // No epoch, an id from before this run's floor.
        assert_eq!(
            resume(&LOG, req(None, 999)),
            Resume::Reset(ResetReason::OtherRun)
        );
        assert_eq!(
            resume(&LOG, req(None, 0)),
            Resume::Reset(ResetReason::OtherRun)
        );
    }

    #[test]
    fn ahead_and_too_old_are_resets() {
        assert_eq!(
            resume(&LOG, req(Some("b"), 1_011)),
            Resume::Reset(ResetReason::Ahead)
        );
        assert_eq!(
            resume(&LOG, req(Some("b"), 1_002)),
            Resume::Reset(ResetReason::TooOld)
        );
        // The floor itself: "nothing of this run yet", but 1001..1003 are gone.
        assert_eq!(
            resume(&LOG, req(Some("b"), 1_000)),
            Resume::Reset(ResetReason::TooOld)
        );
        let empty = LogView {
            oldest: None,
            ..LOG
        };
        assert_eq!(
            resume(&empty, req(Some("b"), 1_009)),
            Resume::Reset(ResetReason::TooOld)
        );
    }

    #[test]
    fn a_fresh_run_accepts_its_own_floor() {
        let fresh = LogView {
            epoch: "c",
            floor: 5_000,
            head: 5_000,
            oldest: None,
        };
        assert_eq!(resume(&fresh, req(Some("c"), 5_000)), Resume::UpToDate);
        let one = LogView {
            head: 5_001,
            oldest: Some(5_001),
            ..fresh
        };
        assert_eq!(
            resume(&one, req(Some("c"), 5_000)),
            Resume::Replay { after: 5_000 }
        );
    }

    #[test]
    fn floors_grow_with_the_clock_and_stay_exact_in_javascript() {
        assert!(floor_for_new_run(2_000_000) > floor_for_new_run(1_000_000));
        assert!(floor_for_new_run(u64::MAX) < MAX_SAFE_ID);
    }
}
