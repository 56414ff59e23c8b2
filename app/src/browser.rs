//! The dashboard's side of the browser (hydrate only): the handlers that turn the shared
//! stream's events into [`DashboardData`], the resync with the server, render batching, and the
//! testing contract's `document.body.dataset`.

use crate::data::DashboardData;
use crate::model::{
    event_name, Device, DeviceEvent, Hello, Reset, Stats, EPOCH_HEADER, HEAD_ID_HEADER,
};
use leptos::prelude::*;
use std::time::Duration;
use tabrelay::runtime::{clock, http, leaving, lifecycle};
use tabrelay::{AppEvent, Mode, ResyncReason, SharedEventSource, TabView};
use wasm_bindgen::JsCast;
use wire::json::{self, FromJson};
use wire::Position;

/// Device events are rendered at most this often, in batches (see `DashboardData::queue_event`):
/// ten times a second is as fast as a person reads a log, and at 100 events a second it paints a
/// sixth of the frames one render per animation frame did (each paint of the log costs about a
/// millisecond of main thread). The relay and the app's handlers do not wait for it.
const RENDER_BATCH: Duration = Duration::from_millis(100);
/// The batch of a hidden page: nothing of it is painted; its rows go into the log's DOM as the
/// batch is flushed (the testing contract wants them there), so this is also how late they are
/// (`ui::frame`). The relay and the handlers still run for every event. Flushed at once when the
/// page shows (`flush_when_shown`).
const HIDDEN_BATCH: Duration = Duration::from_millis(1000);

/// Registers the dashboard's handlers on `source`: device events into the log and the grid,
/// `stats` into the counters, `hello` and `reset` into the run the events belong to.
pub fn fill(source: SharedEventSource, data: DashboardData) {
    for name in [event_name::DEVICE_ONLINE, event_name::DEVICE_OFFLINE] {
        source.on(name, move |event| {
            let AppEvent::Event {
                event,
                relayed,
                latency,
            } = event
            else {
                return;
            };
            match json::from_str::<DeviceEvent>(&event.data) {
                Ok(device_event) => {
                    let latency_ms = latency.map(|l| l.as_secs_f64() * 1000.0);
                    if data.queue_event(device_event, *relayed, latency_ms, clock::now_ms()) {
                        set_timeout(
                            move || {
                                if !leaving::has_left() {
                                    data.flush_events()
                                }
                            },
                            batch_delay(),
                        );
                    }
                }
                Err(err) => leptos::logging::warn!("tabrelay: bad {} payload: {err}", event.name),
            }
        });
    }
    on_decoded(source, event_name::STATS, move |stats: Stats| {
        data.record_stats(stats, clock::now_ms())
    });
    on_decoded(source, event_name::HELLO, move |hello: Hello| {
        data.enter_run(&hello.epoch);
    });
    // The events this tab had could not be continued (the server restarted, or the gap is no
    // longer held): the devices start again from the snapshot, in the snapshot's run. The
    // counters come with the `stats` event the server sends right after it.
    on_decoded(source, event_name::RESET, move |reset: Reset| {
        data.set_devices_at(reset.devices, &Position::new(reset.epoch, reset.head_id));
    });
    flush_when_shown(data);
    mirror_on_body(source.view, data);
}

/// Registers `handle` for the events named `name`, their data read as a `T` (bad data is logged
/// with the event's name). What `SharedEventSource::on_json` does with serde, through
/// `wire::json`: the dashboard's bundle links no serde_json.
fn on_decoded<T: FromJson + 'static>(
    source: SharedEventSource,
    name: &'static str,
    handle: impl Fn(T) + 'static,
) {
    source.on(name, move |event| {
        let Some(data) = tabrelay::data(event) else {
            return;
        };
        match json::from_str::<T>(data) {
            Ok(value) => handle(value),
            Err(err) => leptos::logging::warn!("tabrelay: bad {name} payload: {err}"),
        }
    });
}

/// How long the events of a new batch wait for the ones that follow (see [`HIDDEN_BATCH`]).
fn batch_delay() -> Duration {
    if is_visible() {
        RENDER_BATCH
    } else {
        HIDDEN_BATCH
    }
}

fn is_visible() -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .is_none_or(|d| lifecycle::is_visible(&d))
}

/// A page that shows again renders the events its hidden batch still holds at once.
fn flush_when_shown(data: DashboardData) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let listener = wasm_bindgen::closure::Closure::<dyn Fn()>::new(move || {
        if is_visible() && !leaving::has_left() {
            data.flush_events();
        }
    });
    let _ = document
        .add_event_listener_with_callback("visibilitychange", listener.as_ref().unchecked_ref());
    // Lives as long as the page, like the dashboard.
    listener.forget();
}

/// tabrelay's resync callback: brings the devices (and, after the first connect, the counters)
/// up to date with the server.
///
/// The page was rendered from a snapshot a moment before this tab's first event; events and
/// `stats` pushed in between never reach it (`stats` is only pushed on change, so a tab that joins
/// later would wait for the next change). The device list is replayed with the events this tab
/// received after the list was taken.
pub fn resync(data: DashboardData, reason: ResyncReason) {
    leptos::task::spawn_local(async move {
        if reason == ResyncReason::FirstConnect {
            resync_stats(data).await;
        }
        resync_devices(data).await;
    });
}

async fn resync_stats(data: DashboardData) {
    match http::send("GET", "/api/stats", &[]).await {
        Ok(reply) if reply.ok() => match json::from_str::<Stats>(&reply.body) {
            // Only if no live `stats` arrived meanwhile: those are newer.
            Ok(stats) if data.stats.get_untracked().is_none() => {
                data.record_stats(stats, clock::now_ms())
            }
            Ok(_) => {}
            Err(err) => leptos::logging::warn!("tabrelay: stats resync: {err}"),
        },
        Ok(reply) => leptos::logging::warn!("tabrelay: stats resync got {}", reply.status),
        Err(problem) => leptos::logging::warn!("tabrelay: stats resync: {problem}"),
    }
}

/// Replaces the device grid with the server's list, replaying on top of it the events this tab
/// received after the list was taken (in the list's run: `x-tabrelay-epoch`).
async fn resync_devices(data: DashboardData) {
    let reply = match http::send("GET", "/api/devices", &[HEAD_ID_HEADER, EPOCH_HEADER]).await {
        Ok(reply) if reply.ok() => reply,
        Ok(reply) => return leptos::logging::warn!("tabrelay: device resync got {}", reply.status),
        Err(problem) => return leptos::logging::warn!("tabrelay: device resync: {problem}"),
    };
    let head_id = reply.headers[0]
        .as_deref()
        .and_then(|h| h.parse::<u64>().ok());
    let head = head_id
        .zip(reply.headers[1].clone())
        .map(|(id, epoch)| Position::new(epoch, id));
    match (json::from_str::<Vec<Device>>(&reply.body), head) {
        (Ok(devices), Some(head)) => data.set_devices_at(devices, &head),
        (Ok(devices), None) => data.set_devices(devices),
        (Err(err), _) => leptos::logging::warn!("tabrelay: device resync: {err}"),
    }
}

/// The size of this tab's wasm linear memory (it only grows).
fn wasm_memory_bytes() -> u32 {
    wasm_bindgen::memory()
        .dyn_into::<js_sys::WebAssembly::Memory>()
        .map(|memory| {
            memory
                .buffer()
                .unchecked_into::<js_sys::ArrayBuffer>()
                .byte_length()
        })
        .unwrap_or(0)
}

/// Keeps the testing contract's `document.body.dataset` in step with the tab: one effect per
/// attribute, so an event rewrites `eventsReceived` alone, not all ten.
fn mirror_on_body(view: TabView, data: DashboardData) {
    let Some(body) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.body())
    else {
        return;
    };
    let mirror = |key: &'static str, value: Box<dyn Fn() -> String>| {
        let dataset = body.dataset();
        Effect::new(move |_| {
            let _ = dataset.set(key, &value());
        });
    };
    mirror(
        "role",
        Box::new(move || tabrelay::role_word(view.role.get()).to_string()),
    );
    mirror("tabId", Box::new(move || view.tab_id.get()));
    mirror(
        "leaderId",
        Box::new(move || view.leader_id.get().unwrap_or_default()),
    );
    mirror(
        "eventsReceived",
        Box::new(move || data.events_received.get().to_string()),
    );
    mirror("term", Box::new(move || view.term.get().to_string()));
    mirror(
        "mechanism",
        Box::new(move || view.mechanism.get().unwrap_or_default().to_string()),
    );
    mirror(
        "mode",
        Box::new(move || view.mode.get().map_or("", Mode::as_str).to_string()),
    );
    mirror(
        "ignoredMessages",
        Box::new(move || view.ignored_messages.get().to_string()),
    );
    mirror(
        "leaderSince",
        Box::new(move || {
            view.leader_since_ms
                .get()
                .map(|ms| crate::ui::format::decimal(ms, 3))
                .unwrap_or_default()
        }),
    );
    // For the modes benchmark: JS heap figures leave out the wasm linear memory. Sampled when the
    // event count changes (the memory grows with the log).
    mirror(
        "wasmMemory",
        Box::new(move || {
            data.events_received.track();
            wasm_memory_bytes().to_string()
        }),
    );
}
