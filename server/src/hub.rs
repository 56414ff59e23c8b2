//! The hub: this process's device state, replay buffer and fan-out channel.
//!
//! Every device event enters through [`Hub::publish_next`] (numbered here) or [`Hub::ingest`]
//! (numbered elsewhere, e.g. by a multi-replica [`crate::bus::Bus`]). Under one short lock it
//! updates the device snapshot, encodes the SSE frame once, appends it to the replay buffer and
//! sends it on a `tokio::sync::broadcast` channel that every stream holds a receiver of.
//!
//! Why `broadcast`: it is one shared ring of `capacity` slots, not a queue per receiver, so a
//! stream that stops reading costs no memory beyond its cursor; the publisher never waits for
//! anyone; and a receiver that falls more than `capacity` behind gets `Lagged`, which the stream
//! turns into a `reset` (see [`crate::sse`]). Each slot holds a [`Frame`] whose `Bytes` are
//! shared, so delivery is a refcount increment per stream.
//!
//! Subscribing and snapshotting happen under the same lock as publishing, so a resuming stream's
//! replay and its live receiver meet with no gap and no duplicate; the stream still skips live
//! ids at or below the replayed head, which is what makes the seam safe should the two ever be
//! taken separately (as a remote bus would, and as a `reset` is).
//!
//! # Runs, floors and resets
//!
//! The hub belongs to one run of the event log, its *epoch*; its ids start above a *floor*
//! ([`wire::floor_for_new_run`]), so the first event is `floor + 1` and ids never repeat across
//! restarts. Whether a resuming reader gets a replay or a `reset` is decided by [`wire::resume`]
//! (the one rule the tab core's simulator shares).
//!
//! A `reset` carries the whole device snapshot. It is encoded once per `(head, reason)` and
//! cached ([`Hub::reset_frame`]): the devices are cloned under the hub's lock, serialised after
//! releasing it, so a burst that lags 10,000 streams costs one encoding per head, and publishing
//! never waits for JSON.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use app::model::{event_name, Device, DeviceEvent, DeviceEventKind, Reset};
use bytes::Bytes;
use tokio::sync::broadcast;
use wire::{LogView, Resume, ResumeRequest};

use crate::frame;
use crate::metrics::Metrics;
use crate::replay::{Frame, ReplayBuffer};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Microseconds since the Unix epoch (what [`wire::floor_for_new_run`] takes).
pub fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// A new random epoch: 16 lowercase hex characters.
pub fn random_epoch() -> String {
    use std::hash::{BuildHasher, Hasher};
    // RandomState is keyed from the OS's randomness once per thread (then incremented); the
    // clock and the pid make two processes of the same instant differ as well.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(now_micros());
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}

/// Why a stream is sent a `reset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResetCause {
    /// Its resume point could not be replayed ([`wire::resume`] said so).
    Resume(wire::ResetReason),
    /// It read too slowly and fell behind the live channel.
    Lagged,
}

impl ResetCause {
    /// The `reason` of the `reset` payload.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Resume(reason) => reason.describe(),
            Self::Lagged => "stream fell behind the live events",
        }
    }
}

pub struct Hub {
    state: Mutex<State>,
    tx: broadcast::Sender<Frame>,
    metrics: Arc<Metrics>,
    epoch: Arc<str>,
    floor: u64,
    /// Encoded `reset` frames of the current head, at most one per cause. Its lock is taken
    /// before (never while holding) the state's, and serialises the encoding: streams that lag
    /// together wait for the one encoding instead of each doing their own.
    resets: Mutex<Vec<CachedReset>>,
}

struct CachedReset {
    head: u64,
    cause: ResetCause,
    bytes: Bytes,
}

struct State {
    head_id: u64,
    replay: ReplayBuffer,
    devices: BTreeMap<String, Device>,
}

/// A new stream's starting point: what to send first, then `rx` for live frames.
pub struct Subscription {
    pub rx: broadcast::Receiver<Frame>,
    /// Frames to send before going live (a replay, or a single `reset`).
    pub first: Vec<Bytes>,
    /// Live frames with an id at or below this were already covered by `first`.
    pub skip_through: u64,
    /// `Some` when `first` is a reset, with its reason.
    pub reset: Option<wire::ResetReason>,
}

impl Hub {
    /// `replay_capacity`: events kept for resume; `lag_capacity`: how far a stream may fall
    /// behind the live channel before it is reset; `epoch`: this run of the log; `floor`: the
    /// first event is numbered `floor + 1` ([`wire::floor_for_new_run`] in production, anything
    /// small in unit tests).
    pub fn new(
        replay_capacity: usize,
        lag_capacity: usize,
        metrics: Arc<Metrics>,
        epoch: impl Into<Arc<str>>,
        floor: u64,
    ) -> Self {
        let (tx, _) = broadcast::channel(lag_capacity.max(1));
        Self {
            state: Mutex::new(State {
                head_id: floor,
                replay: ReplayBuffer::new(replay_capacity),
                devices: BTreeMap::new(),
            }),
            tx,
            metrics,
            epoch: epoch.into(),
            floor,
            resets: Mutex::new(Vec::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing under this lock can panic half-way through an update, so a poisoned lock
        // still holds consistent state.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// This run of the event log.
    pub fn epoch(&self) -> &str {
        &self.epoch
    }

    /// Every id of this run is above the floor.
    pub fn floor(&self) -> u64 {
        self.floor
    }

    /// Numbers a change with the next id and publishes it. `name` renames the device; without
    /// one the event carries the name the device already has.
    pub fn publish_next(
        &self,
        device: &str,
        kind: DeviceEventKind,
        name: Option<String>,
    ) -> DeviceEvent {
        let mut state = self.lock();
        let name = name.or_else(|| state.devices.get(device).and_then(|d| d.name.clone()));
        let event = DeviceEvent {
            id: state.head_id + 1,
            device: device.to_owned(),
            kind,
            at_ms: now_ms(),
            name,
        };
        self.apply(&mut state, &event);
        event
    }

    /// Publishes an event numbered elsewhere. Ids at or below the head are ignored (returns
    /// `false`): the hub only ever moves forward.
    pub fn ingest(&self, event: &DeviceEvent) -> bool {
        let mut state = self.lock();
        if event.id <= state.head_id {
            return false;
        }
        self.apply(&mut state, event);
        true
    }

    fn apply(&self, state: &mut State, event: &DeviceEvent) {
        state.head_id = event.id;
        let online = event.kind.online();
        state
            .devices
            .entry(event.device.clone())
            .and_modify(|d| {
                d.online = online;
                d.changed_at_ms = event.at_ms;
                if event.name.is_some() {
                    d.name.clone_from(&event.name);
                }
            })
            .or_insert_with(|| Device {
                id: event.device.clone(),
                online,
                changed_at_ms: event.at_ms,
                name: event.name.clone(),
            });
        let frame = Frame {
            id: event.id,
            bytes: frame::event(event.kind.event_name(), Some(event.id), None, event),
        };
        state.replay.push(frame.clone());
        // An error only means no stream is listening right now.
        let _ = self.tx.send(frame);
        self.metrics.published(event.kind);
    }

    /// Adds a device without an event (the simulator's initial population). Existing devices
    /// are left alone.
    pub fn register_device(&self, id: &str, online: bool) {
        let mut state = self.lock();
        if state.devices.contains_key(id) {
            return;
        }
        state.devices.insert(
            id.to_owned(),
            Device {
                id: id.to_owned(),
                online,
                changed_at_ms: now_ms(),
                name: None,
            },
        );
        // The snapshot changed without the head moving: cached resets are stale.
        drop(state);
        self.reset_cache().clear();
    }

    pub fn head_id(&self) -> u64 {
        self.lock().head_id
    }

    pub fn devices(&self) -> Vec<Device> {
        self.lock().devices.values().cloned().collect()
    }

    /// The devices and the id of the last event they include, read together.
    pub fn devices_at_head(&self) -> (u64, Vec<Device>) {
        let state = self.lock();
        (state.head_id, state.devices.values().cloned().collect())
    }

    pub fn device_online(&self, id: &str) -> Option<bool> {
        self.lock().devices.get(id).map(|d| d.online)
    }

    fn reset_cache(&self) -> MutexGuard<'_, Vec<CachedReset>> {
        self.resets.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A `reset` frame with the snapshot at the current head, and that head.
    ///
    /// Encoded at most once per `(head, cause)`: the devices are cloned under the hub's lock and
    /// serialised after it is released, so publishing never waits for the encoding.
    pub fn reset_frame(&self, cause: ResetCause) -> (Bytes, u64) {
        let mut cache = self.reset_cache();
        let (head, devices) = {
            let state = self.lock();
            let head = state.head_id;
            if let Some(hit) = cache.iter().find(|c| c.head == head && c.cause == cause) {
                return (hit.bytes.clone(), head);
            }
            (head, state.devices.values().cloned().collect())
        };
        let reset = Reset {
            epoch: self.epoch.to_string(),
            head_id: head,
            devices,
            reason: cause.describe().to_owned(),
        };
        let bytes = frame::event(event_name::RESET, None, None, &reset);
        cache.retain(|c| c.head == head);
        cache.push(CachedReset {
            head,
            cause,
            bytes: bytes.clone(),
        });
        (bytes, head)
    }

    /// Starts a stream for a reader at `request` (`None`: a fresh reader, live only); what it is
    /// sent first is [`wire::resume`]'s decision.
    pub fn subscribe(&self, request: Option<ResumeRequest<'_>>) -> Subscription {
        let state = self.lock();
        // Subscribe first, then snapshot: nothing published after the snapshot can be missed.
        let rx = self.tx.subscribe();
        let head = state.head_id;
        let log = LogView {
            epoch: &self.epoch,
            floor: self.floor,
            head,
            oldest: state.replay.oldest(),
        };
        match wire::resume(&log, request) {
            Resume::UpToDate => Subscription {
                rx,
                first: Vec::new(),
                skip_through: head,
                reset: None,
            },
            Resume::Replay { after } => {
                let frames = state.replay.after(after);
                Subscription {
                    rx,
                    skip_through: frames.last().map_or(head, |f| f.id),
                    first: frames.into_iter().map(|f| f.bytes).collect(),
                    reset: None,
                }
            }
            Resume::Reset(reason) => {
                // Built outside the lock (and maybe shared with other streams): its head is at
                // least the one `rx` was subscribed at, and live frames up to it are skipped.
                drop(state);
                let (bytes, head) = self.reset_frame(ResetCause::Resume(reason));
                Subscription {
                    rx,
                    first: vec![bytes],
                    skip_through: head,
                    reset: Some(reason),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLOOR: u64 = 1_000;

    fn hub(replay: usize) -> Hub {
        Hub::new(replay, 16, Arc::new(Metrics::new()), "e1", FLOOR)
    }

    fn at(last_id: u64) -> Option<ResumeRequest<'static>> {
        Some(ResumeRequest {
            epoch: Some("e1"),
            last_id,
        })
    }

    #[test]
    fn ids_start_above_the_floor_and_state_follows_events() {
        let h = hub(8);
        assert_eq!(h.head_id(), FLOOR);
        let a = h.publish_next("lamp", DeviceEventKind::DeviceOnline, None);
        let b = h.publish_next("lamp", DeviceEventKind::DeviceOffline, None);
        assert_eq!((a.id, b.id), (FLOOR + 1, FLOOR + 2));
        assert_eq!(h.device_online("lamp"), Some(false));
        assert_eq!(h.head_id(), FLOOR + 2);
        assert!(!h.ingest(&a), "an old id must be ignored");
        assert_eq!(h.head_id(), FLOOR + 2);
    }

    #[test]
    fn random_epochs_are_16_hex_and_differ() {
        let (a, b) = (random_epoch(), random_epoch());
        assert_eq!(a.len(), 16);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, b);
    }

    #[tokio::test]
    async fn resume_replays_then_goes_live_without_duplicates() {
        let h = hub(8);
        for _ in 0..5 {
            h.publish_next("d", DeviceEventKind::DeviceOnline, None);
        }
        let mut sub = h.subscribe(at(FLOOR + 3));
        assert_eq!(sub.first.len(), 2);
        assert!(std::str::from_utf8(&sub.first[0])
            .unwrap()
            .starts_with(&format!("id: {}\n", FLOOR + 4)));
        assert_eq!(sub.skip_through, FLOOR + 5);
        h.publish_next("d", DeviceEventKind::DeviceOffline, None);
        assert_eq!(sub.rx.recv().await.unwrap().id, FLOOR + 6);
    }

    #[test]
    fn too_old_resume_is_a_reset_with_the_snapshot_and_epoch() {
        let h = hub(2);
        h.register_device("quiet", false);
        for _ in 0..5 {
            h.publish_next("d", DeviceEventKind::DeviceOnline, None);
        }
        let sub = h.subscribe(at(FLOOR + 1));
        assert_eq!(sub.reset, Some(wire::ResetReason::TooOld));
        let text = std::str::from_utf8(&sub.first[0]).unwrap();
        assert!(text.starts_with("event: reset\n"), "{text}");
        assert!(
            text.contains("\"quiet\"")
                && text.contains(&format!("\"head_id\":{}", FLOOR + 5))
                && text.contains("\"epoch\":\"e1\""),
            "{text}"
        );
        assert_eq!(sub.skip_through, FLOOR + 5);
    }

    #[test]
    fn another_runs_position_is_never_replayed() {
        let h = hub(64);
        for _ in 0..5 {
            h.publish_next("d", DeviceEventKind::DeviceOnline, None);
        }
        // Same id range, other epoch.
        let other = h.subscribe(Some(ResumeRequest {
            epoch: Some("e0"),
            last_id: FLOOR + 2,
        }));
        assert_eq!(other.reset, Some(wire::ResetReason::OtherRun));
        // No epoch, an id below this run's floor (a browser's own reconnect after a restart).
        let old = h.subscribe(Some(ResumeRequest {
            epoch: None,
            last_id: 7,
        }));
        assert_eq!(old.reset, Some(wire::ResetReason::OtherRun));
        assert_eq!(old.skip_through, FLOOR + 5);
    }

    /// The reset snapshot is encoded once per (head, cause), and a new head or a changed device
    /// list is never answered from the cache.
    #[test]
    fn reset_frames_are_cached_per_head() {
        let h = hub(4);
        h.publish_next("a", DeviceEventKind::DeviceOnline, None);
        let (one, head) = h.reset_frame(ResetCause::Lagged);
        let (two, _) = h.reset_frame(ResetCause::Lagged);
        assert_eq!(head, FLOOR + 1);
        assert_eq!(
            one.as_ptr(),
            two.as_ptr(),
            "the same encoded bytes are shared"
        );
        let (other_cause, _) = h.reset_frame(ResetCause::Resume(wire::ResetReason::TooOld));
        assert_ne!(one, other_cause, "the reason is part of the frame");
        h.publish_next("b", DeviceEventKind::DeviceOnline, None);
        let (three, head) = h.reset_frame(ResetCause::Lagged);
        assert_eq!(head, FLOOR + 2);
        assert!(std::str::from_utf8(&three).unwrap().contains("\"b\""));
        h.register_device("c", true);
        let (four, _) = h.reset_frame(ResetCause::Lagged);
        assert!(std::str::from_utf8(&four).unwrap().contains("\"c\""));
    }
}
