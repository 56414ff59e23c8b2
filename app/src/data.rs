//! The dashboard's data in one tab: the event log, the device grid, the server's counters. The
//! handlers `source` registers on the shared stream fill it; the UI renders it. Server-side
//! rendering sees the initial values only.
//!
//! Deduplication and ordering of events are tabrelay's job: by the time an event reaches
//! [`DashboardData::queue_event`] it is new and in id order. This tab's coordination (role,
//! leader, tabs) is `tabrelay::TabView`.

use crate::model::{CountSample, Device, DeviceEvent, Stats};
use leptos::prelude::*;
use std::collections::VecDeque;
use std::sync::Arc;
use tabrelay::view::set_if_changed;
use wire::Position;

/// How many device events the log keeps (the testing contract asks for at least 500).
pub const EVENT_LOG_CAPACITY: usize = 500;

/// How long the connection-count sparkline looks back.
pub const HISTORY_WINDOW_MS: f64 = 5.0 * 60.0 * 1000.0;

/// A device event as this tab received it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedEvent {
    /// Local sequence number: a stable list key whatever the ids.
    pub seq: u64,
    /// The run of the event log (the server's epoch) this event belongs to, as a local number
    /// ([`DashboardData::enter_run`]): ids of different runs are never compared.
    pub run: u64,
    pub event: DeviceEvent,
    /// `true` when it came over the BroadcastChannel from the leader, `false` when this tab read
    /// it from the server stream itself.
    pub relayed: bool,
    /// Leader send → this tab's receipt, for relayed events.
    pub relay_latency_ms: Option<f64>,
    /// When this tab received it (ms since epoch, the clock every tab shares).
    pub received_at_ms: f64,
}

/// The signals the dashboard renders. `Copy`: signals are arena handles.
#[derive(Debug, Clone, Copy)]
pub struct DashboardData {
    /// Newest first, at most [`EVENT_LOG_CAPACITY`]. Shared (`Arc`): the log view lists all of
    /// them on every render, which then copies pointers, not 500 events.
    pub events: RwSignal<VecDeque<Arc<ReceivedEvent>>>,
    /// Distinct device events received since the tab opened (not capped).
    pub events_received: RwSignal<u64>,
    /// The server's counters, from its live `stats` events.
    pub stats: RwSignal<Option<Stats>>,
    /// `events_received` when `stats` last arrived: the events published since are counted on top
    /// of `stats.events_published` (stats are pushed when the connection count changes, not per
    /// event).
    pub events_at_stats: RwSignal<u64>,
    /// `(ms since epoch, open connections)`, oldest first, for the last [`HISTORY_WINDOW_MS`].
    pub connection_history: RwSignal<VecDeque<(f64, u64)>>,
    /// Every device the server knows, by id: the server's snapshot, then kept live by events.
    pub devices: RwSignal<Vec<Device>>,
    /// Whether `devices` holds this tab's own state yet (until then the page shows the snapshot
    /// it was rendered with). An empty list can be the truth, so it cannot say this itself.
    pub devices_seeded: RwSignal<bool>,
    next_seq: StoredValue<u64>,
    /// The epoch of the run this tab's events belong to, and its local number.
    run: StoredValue<(Option<String>, u64)>,
    /// Received but not rendered yet (see [`DashboardData::queue_event`]).
    pending: StoredValue<Vec<ReceivedEvent>>,
}

impl DashboardData {
    pub fn new() -> Self {
        Self {
            events: RwSignal::new(VecDeque::new()),
            events_received: RwSignal::new(0),
            stats: RwSignal::new(None),
            events_at_stats: RwSignal::new(0),
            connection_history: RwSignal::new(VecDeque::new()),
            devices: RwSignal::new(Vec::new()),
            devices_seeded: RwSignal::new(false),
            next_seq: StoredValue::new(0),
            run: StoredValue::new((None, 0)),
            pending: StoredValue::new(Vec::new()),
        }
    }

    /// Adds a device event to the log (newest first, capped) and applies it to the device grid.
    pub fn record_event(
        &self,
        event: DeviceEvent,
        relayed: bool,
        relay_latency_ms: Option<f64>,
        received_at_ms: f64,
    ) {
        self.queue_event(event, relayed, relay_latency_ms, received_at_ms);
        self.flush_events();
    }

    /// Takes a device event in without rendering it; returns `true` when it is the first of a
    /// new batch, so the caller schedules one [`DashboardData::flush_events`] for the whole batch.
    ///
    /// Rendering one event re-diffs a 500-row list. Done per message, a burst keeps the main
    /// thread busy and the next relayed message waits behind it; batched, a tab takes messages in
    /// as fast as they come and renders once per frame.
    pub fn queue_event(
        &self,
        event: DeviceEvent,
        relayed: bool,
        relay_latency_ms: Option<f64>,
        received_at_ms: f64,
    ) -> bool {
        let seq = self.next_seq.get_value();
        self.next_seq.set_value(seq + 1);
        let received = ReceivedEvent {
            seq,
            run: self.run.with_value(|(_, run)| *run),
            event,
            relayed,
            relay_latency_ms,
            received_at_ms,
        };
        self.pending
            .try_update_value(|pending| {
                pending.push(received);
                pending.len() == 1
            })
            .unwrap_or(false)
    }

    /// Renders every queued event: log, count and device grid, in one update each.
    pub fn flush_events(&self) {
        let batch = self
            .pending
            .try_update_value(std::mem::take)
            .unwrap_or_default();
        if batch.is_empty() {
            return;
        }
        // One write per batch: the device grid wakes once, however many events there were.
        self.devices.update(|devices| {
            for received in &batch {
                apply_to_devices(devices, &received.event);
            }
        });
        let count = batch.len() as u64;
        self.events.update(|log| {
            for received in batch {
                log.push_front(Arc::new(received));
            }
            log.truncate(EVENT_LOG_CAPACITY);
        });
        self.events_received.update(|n| *n += count);
    }
}

impl DashboardData {
    /// Replaces the device grid with a server snapshot (first render, or a `reset`).
    pub fn set_devices(&self, mut devices: Vec<Device>) {
        // The server sends them in id order; a list that is not is put in order by insertion (a
        // few devices: no sort code in the bundle for them).
        if !devices.is_sorted_by(|a, b| a.id <= b.id) {
            let unordered = std::mem::take(&mut devices);
            for device in unordered {
                let at = devices.partition_point(|d| d.id <= device.id);
                devices.insert(at, device);
            }
        }
        set_if_changed(self.devices, devices);
        set_if_changed(self.devices_seeded, true);
    }

    /// The events recorded from now on belong to the run `epoch` (the server's `hello`, a `reset`,
    /// or a resync say which). Returns whether that is a new run: ids of the old one are then
    /// never compared with the new ones (a restarted server's ids start elsewhere).
    pub fn enter_run(&self, epoch: &str) -> bool {
        // Queued events belong to the run they arrived in.
        self.flush_events();
        self.run
            .try_update_value(|(current, run)| {
                if current.as_deref() == Some(epoch) {
                    return false;
                }
                if current.is_some() {
                    *run += 1;
                }
                *current = Some(epoch.to_owned());
                true
            })
            .unwrap_or(false)
    }

    /// Replaces the grid with a snapshot that is current to `head` (a run's epoch and id), then
    /// re-applies the events this tab received after it in that run (they are in the log), oldest
    /// first. Events of another run are never re-applied.
    pub fn set_devices_at(&self, devices: Vec<Device>, head: &Position) {
        self.enter_run(&head.epoch);
        self.set_devices(devices);
        let run = self.run.with_value(|(_, run)| *run);
        let newer: Vec<DeviceEvent> = self.events.with_untracked(|log| {
            log.iter()
                .rev()
                .filter(|e| e.run == run && e.event.id > head.id)
                .map(|e| e.event.clone())
                .collect()
        });
        if !newer.is_empty() {
            self.devices.update(|devices| {
                for event in &newer {
                    apply_to_devices(devices, event);
                }
            });
        }
    }

    /// Records the server's counters and appends to the sparkline history.
    pub fn record_stats(&self, stats: Stats, now_ms: f64) {
        let open = stats.open_connections;
        set_if_changed(self.stats, Some(stats));
        set_if_changed(self.events_at_stats, self.events_received.get_untracked());
        self.connection_history.update(|history| {
            history.push_back((now_ms, open));
            // The newest sample older than the window stays: it is the count when it starts.
            while history
                .get(1)
                .is_some_and(|(at, _)| now_ms - at >= HISTORY_WINDOW_MS)
            {
                history.pop_front();
            }
        });
    }

    /// Puts the server's recent history (from the page's snapshot) before what this tab has
    /// recorded itself. `shift_ms` maps the server's clock onto this one.
    pub fn seed_connection_history(&self, samples: &[CountSample], shift_ms: f64) {
        self.connection_history.update(|history| {
            let first_own = history.front().map_or(f64::INFINITY, |(at, _)| *at);
            for sample in samples.iter().rev() {
                let at = sample.at_ms as f64 + shift_ms;
                if at < first_own {
                    history.push_front((at, sample.open));
                }
            }
        });
    }
}

/// Applies one device event to the grid (sorted by id).
fn apply_to_devices(devices: &mut Vec<Device>, event: &DeviceEvent) {
    let online = event.kind.online();
    match devices.binary_search_by(|d| d.id.as_str().cmp(&event.device)) {
        Ok(at) => {
            let device = &mut devices[at];
            device.online = online;
            device.changed_at_ms = event.at_ms;
            if event.name.is_some() {
                device.name.clone_from(&event.name);
            }
        }
        Err(at) => devices.insert(
            at,
            Device {
                id: event.device.clone(),
                online,
                changed_at_ms: event.at_ms,
                name: event.name.clone(),
            },
        ),
    }
}

impl Default for DashboardData {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DeviceEventKind;

    fn event(id: u64) -> DeviceEvent {
        DeviceEvent {
            id,
            device: format!("d{id}"),
            kind: DeviceEventKind::DeviceOnline,
            at_ms: 0,
            name: None,
        }
    }

    #[test]
    fn the_log_is_newest_first_and_capped_but_the_count_is_not() {
        let owner = Owner::new();
        owner.with(|| {
            let state = DashboardData::new();
            for id in 1..=(EVENT_LOG_CAPACITY as u64 + 10) {
                state.record_event(event(id), id % 2 == 0, None, 0.0);
            }
            let log = state.events.get_untracked();
            assert_eq!(log.len(), EVENT_LOG_CAPACITY);
            assert_eq!(
                log.front().unwrap().event.id,
                EVENT_LOG_CAPACITY as u64 + 10
            );
            assert_eq!(log.back().unwrap().event.id, 11);
            assert_eq!(
                state.events_received.get_untracked(),
                EVENT_LOG_CAPACITY as u64 + 10
            );
            let seqs: std::collections::HashSet<_> = log.iter().map(|e| e.seq).collect();
            assert_eq!(seqs.len(), log.len(), "list keys are unique");
        });
    }

    #[test]
    fn queued_events_render_together_in_order() {
        let owner = Owner::new();
        owner.with(|| {
            let state = DashboardData::new();
            assert!(
                state.queue_event(event(1), false, None, 0.0),
                "first of a batch"
            );
            assert!(!state.queue_event(event(2), true, None, 0.0));
            assert!(
                state.events.get_untracked().is_empty(),
                "nothing rendered before the flush"
            );
            state.flush_events();
            let ids: Vec<u64> = state
                .events
                .get_untracked()
                .iter()
                .map(|e| e.event.id)
                .collect();
            assert_eq!(ids, [2, 1]);
            assert_eq!(state.events_received.get_untracked(), 2);
            assert!(
                state.queue_event(event(3), false, None, 0.0),
                "a new batch starts"
            );
        });
    }

    #[test]
    fn a_snapshot_in_any_order_is_shown_in_id_order_equal_ids_as_they_came() {
        let owner = Owner::new();
        owner.with(|| {
            let state = DashboardData::new();
            let device = |id: &str, changed_at_ms| Device {
                id: id.into(),
                online: false,
                changed_at_ms,
                name: None,
            };
            // Every order of five devices, two of them with the same id.
            let base = [
                device("c", 0),
                device("a", 1),
                device("b", 2),
                device("a", 3),
                device("d", 4),
            ];
            let n = base.len();
            let orders: Vec<Vec<usize>> = (0..n.pow(n as u32))
                .map(|k| {
                    (0..n)
                        .map(|digit| k / n.pow(digit as u32) % n)
                        .collect::<Vec<_>>()
                })
                .filter(|order| (0..n).all(|i| order.contains(&i)))
                .collect();
            assert_eq!(orders.len(), 120);
            for order in orders {
                let given: Vec<Device> = order.iter().map(|&i| base[i].clone()).collect();
                let mut expected = given.clone();
                expected.sort_by(|a, b| a.id.cmp(&b.id));
                state.set_devices(given);
                assert_eq!(state.devices.get_untracked(), expected, "{order:?}");
            }
        });
    }

    #[test]
    fn device_events_keep_the_grid_sorted_and_current() {
        let owner = Owner::new();
        owner.with(|| {
            let state = DashboardData::new();
            state.set_devices(vec![
                Device {
                    id: "b".into(),
                    online: false,
                    changed_at_ms: 1,
                    name: None,
                },
                Device {
                    id: "a".into(),
                    online: true,
                    changed_at_ms: 1,
                    name: None,
                },
            ]);
            let mut offline_a = event(5);
            offline_a.device = "a".into();
            offline_a.kind = DeviceEventKind::DeviceOffline;
            offline_a.at_ms = 9;
            state.record_event(offline_a, false, None, 0.0);
            let mut new_c = event(6);
            new_c.device = "c".into();
            new_c.name = Some("Lamp <c>".into());
            state.record_event(new_c, true, Some(0.5), 0.0);
            let devices = state.devices.get_untracked();
            let ids: Vec<_> = devices.iter().map(|d| d.id.as_str()).collect();
            assert_eq!(ids, ["a", "b", "c"]);
            assert!(!devices[0].online);
            assert_eq!(devices[0].changed_at_ms, 9);
            assert!(devices[2].online);
            assert_eq!(devices[2].name.as_deref(), Some("Lamp <c>"));
        });
    }

    #[test]
    fn a_resync_replays_the_events_newer_than_the_snapshot() {
        let owner = Owner::new();
        owner.with(|| {
            let state = DashboardData::new();
            state.enter_run("run");
            let mut e5 = event(5);
            e5.device = "a".into();
            let mut e6 = event(6);
            e6.device = "a".into();
            e6.kind = DeviceEventKind::DeviceOffline;
            state.record_event(e5, false, None, 0.0);
            state.record_event(e6, false, None, 0.0);
            // The server's list is current to event 5: "a" online. Event 6 must win.
            let snapshot = vec![Device {
                id: "a".into(),
                online: true,
                changed_at_ms: 0,
                name: None,
            }];
            state.set_devices_at(snapshot.clone(), &Position::new("run", 5));
            assert!(!state.devices.get_untracked()[0].online);
            // Current to 6: nothing newer to replay.
            state.set_devices_at(snapshot, &Position::new("run", 6));
            assert!(state.devices.get_untracked()[0].online);
            assert!(state.devices_seeded.get_untracked());
        });
    }

    #[test]
    fn a_snapshot_of_a_new_run_replays_no_event_of_the_old_one() {
        let owner = Owner::new();
        owner.with(|| {
            let state = DashboardData::new();
            assert!(state.enter_run("old"));
            assert!(!state.enter_run("old"), "the same run again is no change");
            // Old run: "a" went offline at id 6.
            let mut e6 = event(6);
            e6.device = "a".into();
            e6.kind = DeviceEventKind::DeviceOffline;
            state.record_event(e6, false, None, 0.0);
            // The server restarted: its snapshot (head 3 of the new run) says "a" is online.
            let snapshot = vec![Device {
                id: "a".into(),
                online: true,
                changed_at_ms: 0,
                name: None,
            }];
            state.set_devices_at(snapshot, &Position::new("new", 3));
            assert!(
                state.devices.get_untracked()[0].online,
                "an event of the old run must not be re-applied over the new run's snapshot"
            );
        });
    }

    #[test]
    fn connection_history_forgets_what_is_older_than_the_window() {
        let owner = Owner::new();
        owner.with(|| {
            let state = DashboardData::new();
            let stats = |n| Stats {
                open_connections: n,
                ..Stats::default()
            };
            state.record_stats(stats(1), 0.0);
            state.record_stats(stats(2), 1000.0);
            state.record_stats(stats(3), HISTORY_WINDOW_MS / 2.0);
            state.record_stats(stats(1), HISTORY_WINDOW_MS + 2000.0);
            let history: Vec<u64> = state
                .connection_history
                .get_untracked()
                .iter()
                .map(|(_, n)| *n)
                .collect();
            // 1 is gone; 2 was the count when the window starts (at 2000), so it stays.
            assert_eq!(history, [2, 3, 1]);
        });
    }

    #[test]
    fn the_servers_history_goes_before_the_tabs_own() {
        let owner = Owner::new();
        owner.with(|| {
            let state = DashboardData::new();
            state.record_stats(
                Stats {
                    open_connections: 2,
                    ..Stats::default()
                },
                10_000.0,
            );
            let sample = |at_ms, open| CountSample { at_ms, open };
            // Shifted by +500 ms; the sample at 9_800 (+500 = 10_300) is newer than the tab's own.
            let server = [sample(1_000, 0), sample(5_000, 1), sample(9_800, 2)];
            state.seed_connection_history(&server, 500.0);
            let history: Vec<(f64, u64)> = state
                .connection_history
                .get_untracked()
                .into_iter()
                .collect();
            assert_eq!(history, [(1_500.0, 0), (5_500.0, 1), (10_000.0, 2)]);
        });
    }
}
