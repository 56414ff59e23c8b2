//! The hub: this process's device state, replay buffer and fan-out channel.
//!
//! Every device event enters through [`Hub::publish_next`] (numbered here) or [`Hub::ingest`]
//! (numbered elsewhere, e.g. by a multi-replica [`crate::bus::Bus`]). Under one short lock it
//! updates the device snapshot, encodes the SSE frame once, appends it to the replay buffer and
//! sends it on a [`crate::fanout`] channel (`tokio::sync::broadcast`'s design, without its
//! per-receiver lock on every wait) that every stream holds a receiver of.
//!
//! Why a broadcast ring: it is one shared ring of `capacity` slots, not a queue per receiver, so a
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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use wire::model::{event_name, Device, DeviceEvent, DeviceEventKind, Reset};
use wire::{LogView, Resume, ResumeRequest};

use crate::fanout;
use crate::frame;
pub use crate::live::{Live, ResetCause};
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

pub struct Hub {
    state: Mutex<State>,
    tx: fanout::Sender<Live>,
    metrics: Arc<Metrics>,
    /// The head, for waiting on it ([`Hub::wait_for_head`]); written under the state's lock.
    head_tx: watch::Sender<u64>,
    /// Encoded `reset` frames of the current head, at most one per cause. Its lock is taken
    /// before (never while holding) the state's, and serialises the encoding: streams that lag
    /// together wait for the one encoding instead of each doing their own.
    resets: Mutex<Vec<CachedReset>>,
    /// Set (and every stream woken) once the server's shutdown token is cancelled; see
    /// [`Hub::watch_shutdown`]. Streams read it at every poll: an atomic load, where the
    /// token's own `is_cancelled` locks the token's mutex (one mutex for every stream, fought
    /// over by every worker thread, once per stream and event).
    ending: Arc<AtomicBool>,
    /// The writers of live events to [`crate::direct`] streams, started with the first one.
    shards: std::sync::OnceLock<crate::direct_shard::Shards>,
    /// `--io-uring`, for the shards' writers.
    io_uring: bool,
    /// A task waits for the token ([`Hub::watch_shutdown`]).
    watching: AtomicBool,
}

struct CachedReset {
    head: u64,
    cause: ResetCause,
    bytes: Bytes,
}

struct State {
    epoch: Arc<str>,
    floor: u64,
    head_id: u64,
    replay: ReplayBuffer,
    devices: BTreeMap<String, Device>,
}

/// A new stream's starting point: what to send first, then `rx` for live frames.
pub struct Subscription {
    pub rx: fanout::Receiver<Live>,
    /// Frames to send before going live (a replay, or a single `reset`).
    pub first: Vec<Bytes>,
    /// Live frames with an id at or below this were already covered by `first`.
    pub skip_through: u64,
    /// `Some` when `first` is a reset, with its reason.
    pub reset: Option<wire::ResetReason>,
    /// The run `skip_through` belongs to (for `hello`).
    pub epoch: Arc<str>,
}

/// A whole run's state, as a remote log holds it (see [`Hub::load_run`]).
#[derive(Debug, Clone)]
pub struct RunSnapshot {
    pub epoch: String,
    pub floor: u64,
    pub head: u64,
    pub devices: Vec<Device>,
    /// The newest events of the run, oldest first, consecutive and ending at `head` (or empty).
    pub recent: Vec<DeviceEvent>,
}

/// Why an event numbered elsewhere was not taken by [`Hub::ingest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestError {
    /// Already seen (at or below the head): nothing to do.
    Duplicate,
    /// Not the next id: events between the head and this one were never seen.
    Gap { head: u64 },
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
        let tx = fanout::channel(lag_capacity.max(1));
        Self {
            state: Mutex::new(State {
                epoch: epoch.into(),
                floor,
                head_id: floor,
                replay: ReplayBuffer::new(replay_capacity),
                devices: BTreeMap::new(),
            }),
            tx,
            metrics,
            head_tx: watch::Sender::new(floor),
            resets: Mutex::new(Vec::new()),
            ending: Arc::new(AtomicBool::new(false)),
            shards: std::sync::OnceLock::new(),
            io_uring: true,
            watching: AtomicBool::new(false),
        }
    }

    /// Whether the fan-out's writers may send through an io_uring (`--io-uring`; default yes,
    /// where the kernel allows it).
    pub fn io_uring(mut self, on: bool) -> Self {
        self.io_uring = on;
        self
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing under this lock can panic half-way through an update, so a poisoned lock
        // still holds consistent state.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// This run of the event log.
    pub fn epoch(&self) -> Arc<str> {
        Arc::clone(&self.lock().epoch)
    }

    /// Every id of this run is above the floor.
    pub fn floor(&self) -> u64 {
        self.lock().floor
    }

    /// The run and its head, read together.
    pub fn position(&self) -> wire::Position {
        let state = self.lock();
        wire::Position::new(&*state.epoch, state.head_id)
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

    /// Publishes the next event of the current run, numbered elsewhere (a remote bus). Only
    /// the id right after the head is taken: an older one was already seen, a newer one means
    /// events were missed, which the caller must repair (a fresh [`Hub::load_run`]), never skip.
    pub fn ingest(&self, event: &DeviceEvent) -> Result<(), IngestError> {
        let mut state = self.lock();
        if event.id <= state.head_id {
            return Err(IngestError::Duplicate);
        }
        if event.id != state.head_id + 1 {
            return Err(IngestError::Gap {
                head: state.head_id,
            });
        }
        self.apply(&mut state, event);
        Ok(())
    }

    fn apply(&self, state: &mut State, event: &DeviceEvent) {
        state.head_id = event.id;
        self.head_tx.send_replace(event.id);
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
        let frame = Frame::new(
            event.id,
            &frame::event(event.kind.event_name(), Some(event.id), None, event),
            tokio::time::Instant::now(),
        );
        state.replay.push(frame.clone());
        self.tx.send(Live::Event(frame));
        self.metrics.published(event.kind);
    }

    /// Brings the hub to a run's state as a remote log holds it, and returns how it moved:
    ///
    /// * the same run, and `snapshot.recent` continues from the head: the missing events are
    ///   published one by one, like live ones (a tail that reconnected);
    /// * the same run but the events since the head are gone, or another run: the state is
    ///   replaced and every stream is sent a `reset` (a Redis that lost its data, a long outage).
    pub fn load_run(&self, snapshot: RunSnapshot) -> LoadOutcome {
        let mut state = self.lock();
        let same_run = *state.epoch == *snapshot.epoch;
        if same_run && snapshot.head == state.head_id {
            merge_absent_devices(&mut state.devices, snapshot.devices);
            drop(state);
            self.reset_cache().clear();
            return LoadOutcome::UpToDate;
        }
        if same_run && snapshot.head > state.head_id {
            let next = state.head_id + 1;
            if let Some(start) = snapshot.recent.iter().position(|e| e.id == next) {
                let missed = snapshot.recent.len() - start;
                for event in &snapshot.recent[start..] {
                    self.apply(&mut state, event);
                }
                merge_absent_devices(&mut state.devices, snapshot.devices);
                drop(state);
                self.reset_cache().clear();
                return LoadOutcome::CaughtUp { missed };
            }
        }
        let cause = if same_run {
            ResetCause::Lost
        } else {
            ResetCause::Resume(wire::ResetReason::OtherRun)
        };
        state.epoch = snapshot.epoch.into();
        state.floor = snapshot.floor;
        state.head_id = snapshot.head;
        state.devices = snapshot
            .devices
            .into_iter()
            .map(|d| (d.id.clone(), d))
            .collect();
        state.replay.clear();
        for event in &snapshot.recent {
            state.replay.push(Frame::new(
                event.id,
                &frame::event(event.kind.event_name(), Some(event.id), None, event),
                tokio::time::Instant::now(),
            ));
        }
        self.head_tx.send_replace(snapshot.head);
        drop(state);
        self.reset_cache().clear();
        self.tx.send(Live::Reset(cause));
        LoadOutcome::Replaced(cause)
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

    /// Wakes every open stream without an event, to look at what else it watches (a new
    /// `stats` frame): see [`crate::fanout`].
    pub fn wake_streams(&self) {
        self.tx.wake_all();
    }

    /// Ends every stream once `shutdown` is cancelled (and at once if it is): the first call
    /// starts a task that waits for it, later calls do nothing. Called by each stream's
    /// handler, so whatever serves the router (ours, or an embedding app's) gets it.
    pub fn watch_shutdown(self: &Arc<Self>, shutdown: &CancellationToken) {
        if self.watching.swap(true, Ordering::AcqRel) {
            return;
        }
        let hub = Arc::clone(self);
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            shutdown.cancelled().await;
            hub.end_streams();
        });
    }

    /// Ends every stream: each one ends its body when it is next polled (they are all woken).
    pub fn end_streams(&self) {
        self.ending.store(true, Ordering::Release);
        self.tx.wake_all();
    }

    /// A slot for a [`crate::direct`] stream on `fd`: live events are written to it by its
    /// shard's writer while its task waits (see [`crate::direct_shard`]). Must be called
    /// within the runtime (the writers start with the first stream).
    pub(crate) fn register_direct(
        &self,
        fd: std::os::fd::RawFd,
        skip_through: u64,
    ) -> Arc<crate::direct_shard::Slot> {
        self.shards
            .get_or_init(|| {
                crate::direct_shard::Shards::start(
                    &self.tx,
                    Arc::clone(&self.ending),
                    Arc::clone(&self.metrics),
                    self.io_uring,
                )
            })
            .register(fd, skip_through)
    }

    /// `true` once streams are to end ([`Hub::end_streams`]).
    pub fn ending(&self) -> bool {
        self.ending.load(Ordering::Acquire)
    }

    pub fn head_id(&self) -> u64 {
        self.lock().head_id
    }

    /// Waits until the head is at least `id` (of whatever run), for at most `timeout`; `true`
    /// if it got there. With a remote bus the local tail trails the log by a moment: a reader
    /// resuming from an id another replica already sent it, or a publisher reading its own
    /// write, waits for that moment instead of being told it is ahead.
    pub async fn wait_for_head(&self, id: u64, timeout: std::time::Duration) -> bool {
        let mut rx = self.head_tx.subscribe();
        let reached = tokio::time::timeout(timeout, rx.wait_for(|head| *head >= id)).await;
        matches!(reached, Ok(Ok(_)))
    }

    pub fn devices(&self) -> Vec<Device> {
        self.lock().devices.values().cloned().collect()
    }

    /// The devices, the id of the last event they include and its run, read together.
    pub fn devices_at_head(&self) -> (wire::Position, Vec<Device>) {
        let state = self.lock();
        (
            wire::Position::new(&*state.epoch, state.head_id),
            state.devices.values().cloned().collect(),
        )
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
        let (epoch, head, devices) = {
            let state = self.lock();
            let head = state.head_id;
            if let Some(hit) = cache.iter().find(|c| c.head == head && c.cause == cause) {
                return (hit.bytes.clone(), head);
            }
            (
                Arc::clone(&state.epoch),
                head,
                state.devices.values().cloned().collect(),
            )
        };
        let reset = Reset {
            epoch: epoch.to_string(),
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
        let epoch = Arc::clone(&state.epoch);
        let log = LogView {
            epoch: &state.epoch,
            floor: state.floor,
            head,
            oldest: state.replay.oldest(),
        };
        match wire::resume(&log, request) {
            Resume::UpToDate => Subscription {
                rx,
                first: Vec::new(),
                skip_through: head,
                reset: None,
                epoch,
            },
            Resume::Replay { after } => {
                let frames = state.replay.after(after);
                Subscription {
                    rx,
                    skip_through: frames.last().map_or(head, |f| f.id),
                    first: frames.into_iter().map(|f| f.bytes).collect(),
                    reset: None,
                    epoch,
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
                    // A run change between the two locks is announced on `rx` as well.
                    epoch,
                }
            }
        }
    }
}

/// How [`Hub::load_run`] moved the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadOutcome {
    /// Nothing was missing.
    UpToDate,
    /// The same run; `missed` events were published as if live.
    CaughtUp { missed: usize },
    /// The state was replaced and every stream sent a `reset` for this cause.
    Replaced(ResetCause),
}

/// Devices the hub has not heard of yet (registered remotely without an event) are added;
/// those it knows are left to the events.
fn merge_absent_devices(known: &mut BTreeMap<String, Device>, remote: Vec<Device>) {
    for device in remote {
        known.entry(device.id.clone()).or_insert(device);
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
        assert_eq!(h.ingest(&a), Err(IngestError::Duplicate));
        let far = DeviceEvent {
            id: FLOOR + 9,
            ..a.clone()
        };
        assert_eq!(h.ingest(&far), Err(IngestError::Gap { head: FLOOR + 2 }));
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
        match sub.rx.recv().await.unwrap() {
            Live::Event(frame) => assert_eq!(frame.id, FLOOR + 6),
            other => panic!("expected an event, got {other:?}"),
        }
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
