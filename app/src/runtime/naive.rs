//! The modes without coordination, where every tab opens its own `EventSource`:
//!
//! * `?mode=naive`, as a page would without tabrelay. The baseline that shows the problem: one
//!   browser allows 6 HTTP/1.1 connections per host, so the 7th naive tab stalls (its page does
//!   not even load).
//! * `?mode=sharded`: the same, spread over the server's shard ports (other origins of the same
//!   host, as subdomain sharding does), so the cap applies per shard: it moves, it does not go.
//! * `?mode=hidden-close`: a tab closes its stream while hidden and, shown again, opens it with
//!   its position (`last_event_id` and `epoch`): fewer connections, at the price of freshness.
//!
//! The browser's own `EventSource` reconnect sends `Last-Event-ID` without the run; the server
//! judges that id alone, and after a restart an id of the old run is answered with a `reset`
//! snapshot, applied like in every other mode.

use std::cell::RefCell;
use std::rc::Rc;

use crate::model::{event_name, DeviceEventKind, Hello, Reset};
use crate::shared::Handler;
use crate::state::TabState;
use coord::handlers::Handlers;
use coord::{AppEvent, Role, ServerEvent};
use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{EventSource, MessageEvent};
use wire::Position;

type Handlers_ = StoredValue<Handlers<Handler>, LocalStorage>;
type Callback = Rc<dyn Fn()>;

/// An open `EventSource` and its listeners; dropping it closes the stream.
struct Stream {
    source: EventSource,
    _listeners: Vec<Closure<dyn Fn(MessageEvent)>>,
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.source.close();
    }
}

/// `?mode=naive`: one stream for the tab's whole life.
pub fn start(state: TabState, handlers: Handlers_, url: &str) {
    lead_alone(state);
    if let Some(stream) = open(state, handlers, url, None, None) {
        // The stream and its listeners live as long as the tab.
        std::mem::forget(stream);
    }
}

/// `?mode=sharded`: asks the server for its shard ports, then opens the stream on one of them
/// (the next in turn for this browser, counted in `localStorage`, so a burst of tabs spreads
/// evenly; without storage, a random one).
pub fn start_sharded(state: TabState, handlers: Handlers_, path: String) {
    lead_alone(state);
    leptos::task::spawn_local(async move {
        let ports = match super::http::send("GET", "/api/stats", &[]).await {
            Ok(reply) if reply.ok() => serde_json::from_str::<ShardPorts>(&reply.body)
                .map(|s| s.shard_ports)
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let url = match (pick(&ports), web_sys::window()) {
            (Some(port), Some(window)) => {
                let location = window.location();
                let protocol = location.protocol().unwrap_or_else(|_| "http:".into());
                let host = location.hostname().unwrap_or_default();
                format!("{protocol}//{host}:{port}{path}")
            }
            _ => {
                leptos::logging::warn!("tabrelay: the server has no shard ports; using its own");
                path
            }
        };
        if let Some(stream) = open(state, handlers, &url, None, None) {
            std::mem::forget(stream);
        }
    });
}

#[derive(serde::Deserialize)]
struct ShardPorts {
    #[serde(default)]
    shard_ports: Vec<u16>,
}

fn pick(ports: &[u16]) -> Option<u16> {
    if ports.is_empty() {
        return None;
    }
    const NEXT: &str = "tabrelay-next-shard";
    let storage = web_sys::window().and_then(|w| w.local_storage().ok().flatten());
    let turn = match &storage {
        Some(storage) => {
            let turn: usize = storage
                .get_item(NEXT)
                .ok()
                .flatten()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let _ = storage.set_item(NEXT, &(turn.wrapping_add(1)).to_string());
            turn
        }
        None => (js_sys::Math::random() * ports.len() as f64) as usize,
    };
    Some(ports[turn % ports.len()])
}

/// `?mode=hidden-close`: the stream is open only while the page is visible.
pub fn start_hidden_close(state: TabState, handlers: Handlers_, url: String) {
    lead_alone(state);
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let position: Rc<RefCell<Option<Position>>> = Rc::default();
    let stream: Rc<RefCell<Option<Stream>>> = Rc::default();
    // `sync` hands itself to the streams it opens (to run again once the position is known).
    let slot: Rc<RefCell<Option<Callback>>> = Rc::default();
    let sync: Callback = {
        let document = document.clone();
        let slot = Rc::clone(&slot);
        Rc::new(move || {
            let visible = !document.hidden();
            let open_now = stream.borrow().is_some();
            if visible && !open_now {
                let resume = position.borrow().clone();
                let url = super::driver::stream_url(&url, resume.as_ref());
                let again = slot.borrow().clone();
                *stream.borrow_mut() =
                    open(state, handlers, &url, Some(Rc::clone(&position)), again);
            } else if !visible && open_now && position.borrow().is_some() {
                // Dropping it closes the connection: the server's count goes down at once.
                // Not before the stream said where it starts (`hello`): without a position,
                // the next open could not resume, and what was published meanwhile is lost.
                let closed = stream.borrow_mut().take();
                drop(closed); // after the borrow: `EventSource.close` may call back in
            }
        })
    };
    *slot.borrow_mut() = Some(Rc::clone(&sync));
    sync();
    let listener = Closure::<dyn Fn()>::new(move || sync());
    let _ = document
        .add_event_listener_with_callback("visibilitychange", listener.as_ref().unchecked_ref());
    listener.forget();
}

/// In these modes the tab is its own leader: nobody else delivers its events.
fn lead_alone(state: TabState) {
    state.role.set(Role::Leader);
    state.leader_id.set(Some(state.tab_id.get_untracked()));
}

/// Opens `url` and delivers what it sends. With `position`, keeps it current (the run from
/// `hello` and `reset`, the id from each device event) for the next open.
/// `positioned` runs (soon after, never inside the listener, which it may drop) whenever the
/// position is set from `hello` or `reset`.
fn open(
    state: TabState,
    handlers: Handlers_,
    url: &str,
    position: Option<Rc<RefCell<Option<Position>>>>,
    positioned: Option<Callback>,
) -> Option<Stream> {
    let source = match EventSource::new(url) {
        Ok(source) => source,
        Err(err) => {
            leptos::logging::error!("tabrelay: cannot open {url}: {err:?}");
            return None;
        }
    };
    let mut listeners = Vec::new();
    for name in [
        event_name::DEVICE_ONLINE,
        event_name::DEVICE_OFFLINE,
        event_name::STATS,
        event_name::HELLO,
        event_name::RESET,
    ] {
        let numbered = DeviceEventKind::from_event_name(name).is_some();
        let position = position.clone();
        let positioned = positioned.clone();
        let listener = Closure::<dyn Fn(MessageEvent)>::new(move |msg: MessageEvent| {
            let data = msg.data().as_string().unwrap_or_default();
            super::deliver(state, name, &data, false, None);
            // `lastEventId` repeats the last id on events without one: only device events own it.
            let id = msg.last_event_id().parse::<u64>().ok().filter(|_| numbered);
            if let Some(position) = &position {
                track(position, name, &data, id);
                if let (Some(positioned), event_name::HELLO | event_name::RESET) =
                    (&positioned, name)
                {
                    let positioned = Rc::clone(positioned);
                    leptos::prelude::set_timeout(move || positioned(), std::time::Duration::ZERO);
                }
            }
            let event = if name == event_name::RESET {
                AppEvent::Reset {
                    event: ServerEvent::new(None, name, data),
                    relayed: false,
                }
            } else {
                AppEvent::Event {
                    event: ServerEvent::new(id, name, data),
                    relayed: false,
                    latency: None,
                }
            };
            super::call_handlers(handlers, &event);
        });
        let _ = source.add_event_listener_with_callback(name, listener.as_ref().unchecked_ref());
        listeners.push(listener);
    }
    Some(Stream {
        source,
        _listeners: listeners,
    })
}

/// Moves the tab's position with what the stream sent.
fn track(position: &RefCell<Option<Position>>, name: &str, data: &str, id: Option<u64>) {
    let mut position = position.borrow_mut();
    match name {
        event_name::HELLO => {
            if let Ok(hello) = serde_json::from_str::<Hello>(data) {
                // A stream of the same run continues from where this tab is (a resume); a new
                // run starts at its head (the `reset` that follows brings the snapshot).
                if position.as_ref().is_none_or(|p| p.epoch != hello.epoch) {
                    *position = Some(Position::new(hello.epoch, hello.head_id));
                }
            }
        }
        event_name::RESET => {
            if let Ok(reset) = serde_json::from_str::<Reset>(data) {
                *position = Some(Position::new(reset.epoch, reset.head_id));
            }
        }
        _ => {
            if let (Some(id), Some(p)) = (id, position.as_mut()) {
                p.id = p.id.max(id);
            }
        }
    }
}
