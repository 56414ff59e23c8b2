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
//! taken separately (as a remote bus would).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use app::model::{event_name, Device, DeviceEvent, DeviceEventKind, Reset};
use bytes::Bytes;
use tokio::sync::broadcast;

use crate::frame;
use crate::metrics::Metrics;
use crate::replay::{Frame, ReplayBuffer, Resume};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

pub struct Hub {
    state: Mutex<State>,
    tx: broadcast::Sender<Frame>,
    metrics: Arc<Metrics>,
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
    pub reset: Option<&'static str>,
}

impl Hub {
    /// `replay_capacity`: events kept for resume; `lag_capacity`: how far a stream may fall
    /// behind the live channel before it is reset.
    pub fn new(replay_capacity: usize, lag_capacity: usize, metrics: Arc<Metrics>) -> Self {
        let (tx, _) = broadcast::channel(lag_capacity.max(1));
        Self {
            state: Mutex::new(State {
                head_id: 0,
                replay: ReplayBuffer::new(replay_capacity),
                devices: BTreeMap::new(),
            }),
            tx,
            metrics,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing under this lock can panic half-way through an update, so a poisoned lock
        // still holds consistent state.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
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
        self.lock()
            .devices
            .entry(id.to_owned())
            .or_insert_with(|| Device {
                id: id.to_owned(),
                online,
                changed_at_ms: now_ms(),
                name: None,
            });
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

    /// A `reset` frame with the current snapshot, and the head id it covers.
    pub fn reset_frame(&self, reason: &str) -> (Bytes, u64) {
        let state = self.lock();
        Self::reset_frame_locked(&state, reason)
    }

    fn reset_frame_locked(state: &State, reason: &str) -> (Bytes, u64) {
        let reset = Reset {
            head_id: state.head_id,
            devices: state.devices.values().cloned().collect(),
            reason: reason.to_owned(),
        };
        (
            frame::event(event_name::RESET, None, None, &reset),
            state.head_id,
        )
    }

    /// Starts a stream for a client that has seen everything up to `last_event_id` (`None`: a
    /// fresh client, live only).
    pub fn subscribe(&self, last_event_id: Option<u64>) -> Subscription {
        let state = self.lock();
        // Subscribe first, then snapshot: nothing published after the snapshot can be missed.
        let rx = self.tx.subscribe();
        let head = state.head_id;
        let Some(last) = last_event_id else {
            return Subscription {
                rx,
                first: Vec::new(),
                skip_through: head,
                reset: None,
            };
        };
        match state.replay.since(last, head) {
            Resume::UpToDate => Subscription {
                rx,
                first: Vec::new(),
                skip_through: head,
                reset: None,
            },
            Resume::Replay(frames) => Subscription {
                rx,
                skip_through: frames.last().map_or(head, |f| f.id),
                first: frames.into_iter().map(|f| f.bytes).collect(),
                reset: None,
            },
            Resume::Reset(reason) => {
                let (bytes, head) = Self::reset_frame_locked(&state, reason);
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

    fn hub(replay: usize) -> Hub {
        Hub::new(replay, 16, Arc::new(Metrics::new()))
    }

    #[test]
    fn ids_are_consecutive_and_state_follows_events() {
        let h = hub(8);
        let a = h.publish_next("lamp", DeviceEventKind::DeviceOnline, None);
        let b = h.publish_next("lamp", DeviceEventKind::DeviceOffline, None);
        assert_eq!((a.id, b.id), (1, 2));
        assert_eq!(h.device_online("lamp"), Some(false));
        assert_eq!(h.head_id(), 2);
        assert!(!h.ingest(&a), "an old id must be ignored");
        assert_eq!(h.head_id(), 2);
    }

    #[tokio::test]
    async fn resume_replays_then_goes_live_without_duplicates() {
        let h = hub(8);
        for _ in 0..5 {
            h.publish_next("d", DeviceEventKind::DeviceOnline, None);
        }
        let mut sub = h.subscribe(Some(3));
        assert_eq!(sub.first.len(), 2);
        assert!(std::str::from_utf8(&sub.first[0])
            .unwrap()
            .starts_with("id: 4\n"));
        assert_eq!(sub.skip_through, 5);
        h.publish_next("d", DeviceEventKind::DeviceOffline, None);
        assert_eq!(sub.rx.recv().await.unwrap().id, 6);
    }

    #[test]
    fn too_old_resume_is_a_reset_with_the_snapshot() {
        let h = hub(2);
        h.register_device("quiet", false);
        for _ in 0..5 {
            h.publish_next("d", DeviceEventKind::DeviceOnline, None);
        }
        let sub = h.subscribe(Some(1));
        assert!(sub.reset.is_some());
        let text = std::str::from_utf8(&sub.first[0]).unwrap();
        assert!(text.starts_with("event: reset\n"), "{text}");
        assert!(
            text.contains("\"quiet\"") && text.contains("\"head_id\":5"),
            "{text}"
        );
        assert_eq!(sub.skip_through, 5);
    }
}
