//! The browser shell of the coordination core (hydrate only).
//!
//! The core (`coord`) decides everything: who leads, when to beat, when to steal, when to
//! reconnect, what to relay. This module only carries its decisions out with browser APIs and
//! feeds back what happens:
//!
//! | module      | browser side                                                                 |
//! |-------------|------------------------------------------------------------------------------|
//! | `driver`    | feeds inputs to the core, performs its outputs, one timer, mirrors state     |
//! | `web_lock`  | `navigator.locks`: hold (never-resolving promise), steal, abort, lost        |
//! | `channel`   | the tabs' channel: post, decode, count foreign input; a `BroadcastChannel`   |
//! |             | (`?mode=leader`) or `storage_channel` (`?mode=storage`, `localStorage`)      |
//! | `stream`    | the leader's `EventSource`, resume via `?last_event_id=N`                     |
//! | `lifecycle` | `visibilitychange`, `pagehide`, `pageshow`, `freeze`, `resume`, `online`     |
//! | `clock`     | microseconds on a time line shared by every tab                             |
//! | `timer`     | the driver's timer; while hidden also in a worker (`public/tabrelay-timer.js`) |
//! | `naive`     | `?mode=naive`: a tab with its own `EventSource`, the baseline (no core)      |
//! | `shared_worker` | `?mode=sharedworker`: a client of `public/tabrelay-worker.js` (no core)  |
//! | [`http`]    | `fetch` for the device resync and the inject form                           |
//! | [`executor`] | the tasks of every effect and `spawn_local`, run from a re-entrant microtask |
//!
//! Closures handed to the browser live as long as the tab (they are leaked with `forget`),
//! except the stream's, which are freed with the stream. Those that feed the driver are `Fn`: a
//! browser may fire an event from inside a call made by that very listener (Firefox does, while it
//! closes a tab), and wasm-bindgen throws "closure invoked recursively" for an `FnMut` called
//! again while it runs; the driver queues what arrives during a turn (`Driver::run`).

mod channel;
mod clock;
mod driver;
pub mod executor;
pub mod http;
mod lifecycle;
mod naive;
mod shared_worker;
mod storage_channel;
mod stream;
mod timer;
mod web_lock;

use crate::model::{event_name, DeviceEvent, DeviceEventKind, Hello, Reset, Stats};
use crate::shared::{Election, Handler, Mode, SharedEventSourceOptions};
use crate::state::TabState;
use coord::handlers::Handlers;
use coord::{AppEvent, Input, Mechanism, Tab, TabId};
pub use driver::Driver;
use leptos::prelude::*;
use std::rc::Rc;
use wasm_bindgen::JsValue;

/// The BroadcastChannel every tab of the origin listens on (`?mode=leader`). Not versioned: a tab
/// of another release (open across a deploy) posts messages of another protocol version, which
/// the core counts and ignores; the lock and the worker, whose holders would otherwise serve tabs
/// they cannot talk to, are versioned (`web_lock::lock_name`, `shared_worker`).
pub const CHANNEL_NAME: &str = "tabrelay";
/// The prefix of the `localStorage` keys that carry messages (`?mode=storage`).
pub const STORAGE_PREFIX: &str = "tabrelay-msg:";

/// Device events are rendered at most this often, in batches (see `TabState::queue_event`): ten
/// times a second is as fast as a person reads a log, and at 100 events a second it paints a
/// sixth of the frames one render per animation frame did (each paint of the log costs about a
/// millisecond of main thread). The relay and the app's handlers do not wait for it.
const RENDER_BATCH: std::time::Duration = std::time::Duration::from_millis(100);
/// The batch of a hidden page: nothing of it is painted, and its views wake once a second
/// anyway (`ui::frame`); the relay and the app's handlers still run for every event. Flushed at
/// once when the page shows (`flush_when_shown`).
const HIDDEN_BATCH: std::time::Duration = std::time::Duration::from_millis(1000);

/// Hands one server event to the tab's state, whichever way it arrived (own stream, relay, or a
/// naive tab's own `EventSource`): device events are queued and rendered in one batch per
/// [`RENDER_BATCH`]; `stats` updates the counters; `hello` names the run the events that follow
/// belong to; `reset` replaces the devices with its snapshot.
fn deliver(state: TabState, name: &str, data: &str, relayed: bool, relay_latency_ms: Option<f64>) {
    if name == event_name::RESET {
        return apply_reset(state, data);
    }
    if name == event_name::HELLO {
        match serde_json::from_str::<Hello>(data) {
            Ok(hello) => {
                state.enter_run(&hello.epoch);
            }
            Err(err) => leptos::logging::warn!("tabrelay: bad hello payload: {err}"),
        }
        return;
    }
    if DeviceEventKind::from_event_name(name).is_some() {
        match serde_json::from_str::<DeviceEvent>(data) {
            Ok(event) => {
                if state.queue_event(event, relayed, relay_latency_ms, clock::now_ms()) {
                    set_timeout(move || state.flush_events(), batch_delay());
                }
            }
            Err(err) => leptos::logging::warn!("tabrelay: bad {name} payload: {err}"),
        }
    } else if name == event_name::STATS {
        match serde_json::from_str::<Stats>(data) {
            Ok(stats) => state.record_stats(stats, clock::now_ms()),
            Err(err) => leptos::logging::warn!("tabrelay: bad stats payload: {err}"),
        }
    }
}

/// How long the events of a new batch wait for the ones that follow (see [`HIDDEN_BATCH`]).
fn batch_delay() -> std::time::Duration {
    let hidden = web_sys::window()
        .and_then(|w| w.document())
        .is_some_and(|d| !lifecycle::is_visible(&d));
    if hidden {
        HIDDEN_BATCH
    } else {
        RENDER_BATCH
    }
}

/// A page that shows again renders the events its hidden batch still holds at once.
fn flush_when_shown(state: TabState) {
    use wasm_bindgen::JsCast;
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let shown = document.clone();
    let listener = wasm_bindgen::closure::Closure::<dyn Fn()>::new(move || {
        if lifecycle::is_visible(&shown) {
            state.flush_events();
        }
    });
    let _ = document
        .add_event_listener_with_callback("visibilitychange", listener.as_ref().unchecked_ref());
    // Lives as long as the tab, like the runtime's other listeners.
    listener.forget();
}

/// A server snapshot (`reset`): the events this tab had could not be continued (the server
/// restarted, or the gap is no longer held), so the devices start again from the snapshot, in the
/// snapshot's run. The counters come with the `stats` event the server sends right after it.
fn apply_reset(state: TabState, data: &str) {
    match serde_json::from_str::<Reset>(data) {
        Ok(reset) => state.set_devices_at(
            reset.devices,
            &wire::Position::new(reset.epoch, reset.head_id),
        ),
        Err(err) => leptos::logging::warn!("tabrelay: bad reset payload: {err}"),
    }
}

/// `mode`, or the closest mode this browser supports: Chrome on Android has no SharedWorker,
/// Safari before 15.4 no BroadcastChannel, and storage can be blocked (then `localStorage`
/// throws). `naive` needs only `EventSource`: a tab with no way to reach other tabs keeps its
/// own stream rather than none.
pub fn available_mode(mode: Mode) -> Mode {
    let Some(window) = web_sys::window() else {
        return mode;
    };
    let has = |name: &str| js_sys::Reflect::has(&window, &JsValue::from_str(name)).unwrap_or(false);
    let storage = || matches!(window.local_storage(), Ok(Some(_)));
    match mode {
        Mode::SharedWorker if !has("SharedWorker") => available_mode(Mode::Leader),
        Mode::Leader | Mode::Storage if !has("BroadcastChannel") && !storage() => Mode::Naive,
        Mode::Leader if !has("BroadcastChannel") && storage() => Mode::Storage,
        Mode::Storage if !storage() && has("BroadcastChannel") => Mode::Leader,
        mode => mode,
    }
}

/// Calls the app's handlers (`SharedEventSource::on`) for `event`.
fn call_handlers(handlers: StoredValue<Handlers<Handler>, LocalStorage>, event: &AppEvent) {
    let name = coord::handlers::event_name(event);
    // Cloned out first: a handler may register or remove handlers.
    let matching: Vec<Handler> = handlers.with_value(|h| h.get(name).cloned().collect());
    for handler in matching {
        handler(event);
    }
}

/// How a tab id is shown (and put in `document.body.dataset`).
pub fn tab_id_text(id: TabId) -> String {
    format!("{:012x}", id.0)
}

/// Starts this tab's runtime. Call once, after hydration.
pub fn start(
    state: TabState,
    handlers: StoredValue<Handlers<Handler>, LocalStorage>,
    options: &SharedEventSourceOptions,
) -> Option<Rc<Driver>> {
    let id = random_tab_id();
    state.tab_id.set(tab_id_text(id));
    let mode = available_mode(options.mode);
    if mode != options.mode {
        leptos::logging::warn!(
            "tabrelay: ?mode={} needs what this browser lacks; using {}",
            options.mode.as_str(),
            mode.as_str()
        );
    }
    let options = &SharedEventSourceOptions {
        mode,
        ..options.clone()
    };
    state.mode.set(Some(mode));
    mirror_state_on_body(state);
    flush_when_shown(state);
    let channel = match options.mode {
        // No election in these two: nothing for `connect` / `step_down` to drive.
        Mode::Naive => {
            naive::start(state, handlers, &options.stream_url());
            return None;
        }
        Mode::Sharded => {
            naive::start_sharded(state, handlers, options.stream_url());
            return None;
        }
        Mode::HiddenClose => {
            naive::start_hidden_close(state, handlers, options.stream_url());
            return None;
        }
        Mode::SharedWorker => {
            shared_worker::start(state, handlers);
            return None;
        }
        Mode::Leader => channel::Channel::broadcast(CHANNEL_NAME),
        Mode::Storage => channel::Channel::storage(STORAGE_PREFIX),
    };
    let channel = match channel {
        Ok(channel) => channel,
        Err(err) => {
            leptos::logging::error!("tabrelay: no channel between tabs: {err:?}");
            return None;
        }
    };
    let locks = web_lock::lock_manager();
    let mechanism = match (options.election, &locks) {
        (Election::Protocol, _) | (Election::Auto, None) => Mechanism::Protocol,
        (Election::Locks, None) => {
            leptos::logging::warn!("tabrelay: ?election=locks, but navigator.locks is missing");
            Mechanism::Protocol
        }
        (Election::Locks | Election::Auto, Some(_)) => Mechanism::Locks,
    };
    state.mechanism.set(Some(match mechanism {
        Mechanism::Locks => "locks",
        Mechanism::Protocol => "protocol",
    }));

    let seed = (js_sys::Math::random() * 2f64.powi(53)) as u64;
    let core = Tab::new(id, mechanism, options.config.clone(), clock::now(), seed);
    let driver = Rc::new(Driver::new(
        core,
        state,
        handlers,
        options.stream_url(),
        // One lock per mode: leader and storage tabs open side by side must not elect each other.
        web_lock::WebLock::new(locks, web_lock::lock_name(options.mode)),
        channel,
    ));
    driver.listen();
    if let Some(document) = web_sys::window().and_then(|w| w.document()) {
        driver.input(Input::VisibilityChanged {
            visible: lifecycle::is_visible(&document),
        });
    }
    if options.auto_connect {
        driver.input(Input::Connect);
    }
    driver.run();
    Some(driver)
}

impl Driver {
    fn listen(self: &Rc<Self>) {
        self.channel().listen(self);
        lifecycle::listen(self);
    }
}

/// 48 random bits: unique among the tabs of a browser, and short enough to read.
fn random_tab_id() -> TabId {
    let high = (js_sys::Math::random() * f64::from(1u32 << 16)) as u64;
    let low = (js_sys::Math::random() * f64::from(u32::MAX)) as u64;
    TabId((high << 32) | low)
}

/// The size of this tab's wasm linear memory (it only grows).
fn wasm_memory_bytes() -> u32 {
    use wasm_bindgen::JsCast;
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

/// Keeps the testing contract's `document.body.dataset` in step with the tab's state: one effect
/// per attribute, so an event rewrites `eventsReceived` alone, not all ten.
fn mirror_state_on_body(state: TabState) {
    let Some(body) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.body())
    else {
        return;
    };
    let mirror = |key: &'static str, value: Box<dyn Fn() -> String>| {
        let data = body.dataset();
        Effect::new(move |_| {
            let _ = data.set(key, &value());
        });
    };
    mirror(
        "role",
        Box::new(move || crate::state::role_word(state.role.get()).to_string()),
    );
    mirror("tabId", Box::new(move || state.tab_id.get()));
    mirror(
        "leaderId",
        Box::new(move || state.leader_id.get().unwrap_or_default()),
    );
    mirror(
        "eventsReceived",
        Box::new(move || state.events_received.get().to_string()),
    );
    mirror("term", Box::new(move || state.term.get().to_string()));
    mirror(
        "mechanism",
        Box::new(move || state.mechanism.get().unwrap_or_default().to_string()),
    );
    mirror(
        "mode",
        Box::new(move || state.mode.get().map_or("", Mode::as_str).to_string()),
    );
    mirror(
        "ignoredMessages",
        Box::new(move || state.ignored_messages.get().to_string()),
    );
    mirror(
        "leaderSince",
        Box::new(move || {
            state
                .leader_since_ms
                .get()
                .map(|ms| ms.to_string())
                .unwrap_or_default()
        }),
    );
    // For the modes benchmark: JS heap figures leave out the wasm linear memory. Sampled when the
    // event count changes (the memory grows with the log).
    mirror(
        "wasmMemory",
        Box::new(move || {
            state.events_received.track();
            wasm_memory_bytes().to_string()
        }),
    );
}
