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

use leptos::prelude::*;
use std::cell::RefCell;
use std::rc::Rc;

use super::sink::Sink;
use crate::options::Options;
use crate::protocol::{Head, HELLO, RESET};
use coord::{AppEvent, Role, ServerEvent};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{EventSource, MessageEvent};
use wire::Position;

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
pub fn start(shared: &Rc<Sink>, options: &Options) {
    lead_alone(shared);
    if let Some(stream) = open(shared, options, &options.stream_url(), None, None) {
        // The stream and its listeners live as long as the tab.
        std::mem::forget(stream);
    }
}

#[cfg(feature = "alternative-modes")]
/// `?mode=sharded`: asks the server for its shard ports, then opens the stream on one of them
/// (the next in turn for this browser, counted in `localStorage`, so a burst of tabs spreads
/// evenly; without storage, a random one).
pub fn start_sharded(shared: &Rc<Sink>, options: &Options) {
    lead_alone(shared);
    let shared = Rc::clone(shared);
    let options = options.clone();
    let path = options.stream_url();
    leptos::task::spawn_local(async move {
        let ports = match &options.shard_ports_url {
            Some(url) => match super::http::send("GET", url, &[]).await {
                Ok(reply) if reply.ok() => shard_ports(&reply.body),
                _ => Vec::new(),
            },
            None => Vec::new(),
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
        if let Some(stream) = open(&shared, &options, &url, None, None) {
            std::mem::forget(stream);
        }
    });
}

#[cfg(feature = "alternative-modes")]
/// The `shard_ports` of the server's stats (none when missing or malformed).
fn shard_ports(stats: &str) -> Vec<u16> {
    wire::json::parse(stats)
        .ok()
        .and_then(|v| v.as_object()?.field_or_default("shard_ports").ok())
        .unwrap_or_default()
}

#[cfg(feature = "alternative-modes")]
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

#[cfg(feature = "alternative-modes")]
/// `?mode=hidden-close`: the stream is open only while the page is visible.
pub fn start_hidden_close(shared: &Rc<Sink>, options: &Options) {
    lead_alone(shared);
    let url = options.stream_url();
    let shared = Rc::clone(shared);
    let options = options.clone();
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
                    open(&shared, &options, &url, Some(Rc::clone(&position)), again);
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
fn lead_alone(shared: &Sink) {
    let view = shared.view;
    view.role.set(Role::Leader);
    view.leader_id.set(Some(view.tab_id.get_untracked()));
}

/// Opens `url` and delivers what it sends. With `position`, keeps it current (the run from
/// `hello` and `reset`, the id from each device event) for the next open.
/// `positioned` runs (soon after, never inside the listener, which it may drop) whenever the
/// position is set from `hello` or `reset`.
fn open(
    shared: &Rc<Sink>,
    options: &Options,
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
    let ids = Rc::new(crate::protocol::IdReader::default());
    for name in options.listened_names() {
        let position = position.clone();
        let positioned = positioned.clone();
        let ids = Rc::clone(&ids);
        let shared = Rc::clone(shared);
        let target = name.clone();
        let listener = Closure::<dyn Fn(MessageEvent)>::new(move |msg: MessageEvent| {
            let data = msg.data().as_string().unwrap_or_default();
            let id = ids.read(&name, &msg.last_event_id());
            if let Some(position) = &position {
                track(position, &name, &data, id);
                if let (Some(positioned), HELLO | RESET) = (&positioned, name.as_str()) {
                    let positioned = Rc::clone(positioned);
                    leptos::prelude::set_timeout(move || positioned(), std::time::Duration::ZERO);
                }
            }
            let event = ServerEvent::new(id, name.as_str(), data);
            let event = if name == RESET {
                AppEvent::Reset {
                    event,
                    relayed: false,
                }
            } else {
                AppEvent::Event {
                    event,
                    relayed: false,
                    latency: None,
                }
            };
            shared.emit(&event);
        });
        let _ = source.add_event_listener_with_callback(&target, listener.as_ref().unchecked_ref());
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
        HELLO => {
            if let Some(hello) = Head::decode(data) {
                // A stream of the same run continues from where this tab is (a resume); a new
                // run starts at its head (the `reset` that follows brings the snapshot).
                if position.as_ref().is_none_or(|p| p.epoch != hello.epoch) {
                    *position = Some(hello.position());
                }
            }
        }
        RESET => {
            if let Some(reset) = Head::decode(data) {
                *position = Some(reset.position());
            }
        }
        _ => {
            if let (Some(id), Some(p)) = (id, position.as_mut()) {
                p.id = p.id.max(id);
            }
        }
    }
}
