//! `?mode=sharedworker`: the tab side of `public/tabrelay-worker.js`. One SharedWorker per origin
//! holds the only `EventSource`; this tab registers with it, pings it every second, says goodbye
//! on `pagehide`, and renders what the worker forwards. There is no election: the worker is the
//! leader of every tab, and it outlives any one of them. The wire format is documented in the
//! worker.

use super::clock;
use super::sink::Sink;
use crate::inbox::FromWorker;
use crate::options::{Options, ResyncReason};
use crate::protocol::{Head, RESET};
use crate::view::{set_if_changed, TabRow};
use coord::{AppEvent, Role, ServerEvent, StreamState};
use leptos::prelude::*;
use std::cell::Cell;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{MessageEvent, MessagePort, SharedWorker};

/// The worker lists a tab it has heard from in the last 5 s; a ping a second keeps it listed.
const PING_EVERY: Duration = Duration::from_secs(1);
/// What the dashboard shows as the leader: the worker holds the connection.
pub const LEADER_NAME: &str = "shared-worker";

/// A message to the worker: `{"type","tab","visible","last_id","epoch"}`.
struct ToWorker<'a> {
    kind: &'a str,
    tab: &'a str,
    visible: bool,
    last_id: Option<u64>,
    epoch: Option<&'a str>,
}

impl ToWorker<'_> {
    fn encode(&self) -> String {
        let mut out = String::with_capacity(96);
        let mut o = wire::json::ObjectWriter::new(&mut out);
        o.field("type", self.kind)
            .field("tab", self.tab)
            .field("visible", &self.visible)
            .field("last_id", &self.last_id)
            .field("epoch", &self.epoch);
        o.end();
        out
    }
}

struct Client {
    /// `None` while the page is in the back/forward cache.
    port: RefCell<Option<MessagePort>>,
    shared: Rc<Sink>,
    /// The worker's script with the stream and the event names in its query: one worker per
    /// stream.
    script: String,
    name: String,
    /// The newest device event id this tab has, and its run; the worker replays newer ones on
    /// `hello`, or sends a `reset` or `resync` when it cannot.
    last_id: Cell<Option<u64>>,
    epoch: RefCell<Option<String>>,
    resynced: Cell<bool>,
}

pub fn start(shared: &Rc<Sink>, options: &Options) {
    let view = shared.view;
    view.role.set(Role::Follower);
    view.leader_id.set(Some(LEADER_NAME.to_string()));
    let client = Rc::new(Client {
        port: RefCell::new(None),
        shared: Rc::clone(shared),
        script: worker_script(options),
        name: options.names.worker_for_protocol(),
        last_id: Cell::new(None),
        epoch: RefCell::new(None),
        resynced: Cell::new(false),
    });
    if !client.connect() {
        return;
    }

    // The handles are dropped on purpose: the pings and listeners live as long as the tab.
    let pinger = Rc::clone(&client);
    let _ = set_interval_with_handle(
        move || {
            if !super::leaving::has_left() {
                pinger.send("ping")
            }
        },
        PING_EVERY,
    );
    let leaving = Rc::clone(&client);
    let _ = window_event_listener_untyped("pagehide", move |_| {
        leaving.send("bye");
        // Let go of the port either way. Into the back/forward cache: a message from the worker
        // (its status comes 4 times a second) would make the browser evict the page. For good:
        // the page takes nothing more (see `leaving`), and a later ping would register it again.
        leaving.disconnect();
    });
    let back = Rc::clone(&client);
    let _ = window_event_listener_untyped("pageshow", move |event| {
        // Back from the back/forward cache: connect and register again with this tab's position;
        // the worker replays what it missed, or sends the reset or a resync.
        if super::lifecycle::is_persisted(&event) {
            back.connect();
        }
    });
    if let Some(document) = web_sys::window().and_then(|w| w.document()) {
        let ping = {
            let client = Rc::clone(&client);
            // An `Fn`: it may be called again from inside its own `postMessage` (see `lifecycle::add`).
            Closure::<dyn Fn(web_sys::Event)>::new(move |_: web_sys::Event| {
                if !super::leaving::has_left() {
                    client.send("ping")
                }
            })
        };
        let _ = document
            .add_event_listener_with_callback("visibilitychange", ping.as_ref().unchecked_ref());
        ping.forget();
    }
}

impl Client {
    /// Connects to the worker (the one every tab of the origin shares) and registers; `false`
    /// when this browser cannot start it.
    fn connect(self: &Rc<Self>) -> bool {
        let worker = match SharedWorker::new_with_str(&self.script, &self.name) {
            Ok(worker) => worker,
            Err(err) => {
                leptos::logging::error!("tabrelay: no SharedWorker: {err:?}");
                return false;
            }
        };
        let port = worker.port();
        let on_message = {
            let client = Rc::clone(self);
            let ignored = self.shared.view.ignored_messages;
            Closure::<dyn Fn(MessageEvent)>::new(move |message: MessageEvent| {
                match FromWorker::decode(message.data().as_string().as_deref()) {
                    Some(message) => client.receive(message),
                    None => ignored.update(|n| *n += 1),
                }
            })
        };
        // Setting `onmessage` also starts the port. The closure lives as long as the tab (a
        // return from the bfcache adds one more).
        port.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        on_message.forget();
        *self.port.borrow_mut() = Some(port);
        self.send("hello");
        true
    }

    fn disconnect(&self) {
        // Taken out before it is closed: a browser call may call back in (see `Driver::run`).
        let taken = self.port.borrow_mut().take();
        if let Some(port) = taken {
            port.set_onmessage(None);
            port.close();
        }
    }

    /// Moves this tab's position past an event from the worker; `false` for a duplicate (a
    /// replay after `hello` may overlap what already arrived: each id once per run).
    fn advance(&self, name: &str, id: Option<u64>, data: &str, epoch: Option<String>) -> bool {
        if name == RESET {
            // The snapshot's head is the position from now on, in the snapshot's run.
            if let Some(reset) = Head::decode(data) {
                self.last_id.set(Some(reset.head_id));
                *self.epoch.borrow_mut() = Some(reset.epoch);
            }
            return true;
        }
        let Some(id) = id else { return true };
        let same_run = epoch.is_none() || *self.epoch.borrow() == epoch;
        if same_run && self.last_id.get().is_some_and(|last| id <= last) {
            return false;
        }
        self.last_id.set(Some(id));
        if epoch.is_some() {
            *self.epoch.borrow_mut() = epoch;
        }
        true
    }

    fn send(&self, kind: &str) {
        let tab = self.shared.view.tab_id.get_untracked();
        let visible = is_visible();
        let text = {
            let epoch = self.epoch.borrow();
            let message = ToWorker {
                kind,
                tab: &tab,
                visible,
                last_id: self.last_id.get(),
                epoch: epoch.as_deref(),
            };
            message.encode()
        };
        // Cloned out: `postMessage` may call back in (see `Driver::run`).
        let port = self.port.borrow().clone();
        let Some(port) = port else { return };
        if let Err(err) = port.post_message(&JsValue::from_str(&text)) {
            leptos::logging::warn!("tabrelay: posting to the worker failed: {err:?}");
        }
    }

    fn receive(&self, message: FromWorker) {
        let state = self.shared.view;
        match message {
            FromWorker::Event {
                name,
                id,
                data,
                at_us,
                epoch,
            } => {
                if !self.advance(&name, id, &data, epoch) {
                    return;
                }
                let latency_ms = (clock::now_ms() - ms(at_us)).max(0.0);
                let latency = Duration::from_micros((latency_ms * 1000.0) as u64);
                let event = ServerEvent::new(id, name, data);
                self.shared.emit(&relayed(event, latency));
            }
            FromWorker::Resync {
                epoch,
                head_id,
                reason,
            } => {
                leptos::logging::warn!("tabrelay: resync from the server: {reason}");
                let from = self.last_id.get().map_or(0, |last| last + 1);
                self.last_id.set(Some(head_id));
                *self.epoch.borrow_mut() = epoch;
                let (from, to) = (from, head_id);
                self.shared.emit(&AppEvent::Lost { from, to });
                self.shared.resync(ResyncReason::Lost { from, to });
            }
            FromWorker::Status {
                stream,
                next_attempt_us,
                tabs,
                at_us,
            } => {
                // The worker's status is the pulse tabs see, as a leader's heartbeat elsewhere.
                state.heartbeat_at_ms.set(Some(ms(at_us)));
                set_if_changed(state.stream, stream_state(&stream));
                set_if_changed(state.next_attempt_ms, next_attempt_us.map(ms));
                let me = state.tab_id.get_untracked();
                let rows: Vec<TabRow> = tabs
                    .into_iter()
                    .map(|tab| TabRow {
                        is_self: tab.id == me,
                        id: tab.id,
                        role: Role::Follower,
                        visible: tab.visible,
                        last_seen_ms: ms(tab.last_seen_us),
                    })
                    .collect();
                // Statuses come 4 times a second; the registry changes on pings (1/s per tab).
                set_if_changed(state.tabs, rows);
                if !self.resynced.replace(true) {
                    self.shared.resync(ResyncReason::FirstConnect);
                }
            }
        }
    }
}

fn relayed(event: ServerEvent, latency: Duration) -> AppEvent {
    if event.name == RESET {
        AppEvent::Reset {
            event,
            relayed: true,
        }
    } else {
        AppEvent::Event {
            event,
            relayed: true,
            latency: Some(latency),
        }
    }
}

/// A worker time (whole µs) in the view's milliseconds.
fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

fn stream_state(word: &str) -> StreamState {
    match word {
        "open" => StreamState::Open,
        "connecting" => StreamState::Connecting,
        "backoff" => StreamState::Backoff,
        _ => StreamState::Closed,
    }
}

fn is_visible() -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .is_some_and(|d| super::lifecycle::is_visible(&d))
}

/// The worker's script URL for this stream (see [`crate::Names::worker_script_url`]).
fn worker_script(options: &Options) -> String {
    let encode = |text: &str| String::from(js_sys::encode_uri_component(text));
    options.names.worker_script_url(
        &encode(&options.stream_url()),
        &encode(&options.listened_names().join(",")),
    )
}
