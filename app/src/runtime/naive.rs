//! `?mode=naive`: this tab opens its own `EventSource`, as a page would without tabrelay. It is
//! the baseline that shows the problem: one browser allows 6 HTTP/1.1 connections per host, so
//! the 7th naive tab stalls (its page does not even load).
//!
//! No coordination, no relay: the browser's own `EventSource` reconnect is used as is. It sends
//! `Last-Event-ID` (without the run, which it cannot add): the server judges that id alone, and
//! after a restart an id of the old run is answered with a `reset` snapshot, which this tab
//! applies like every other mode (ids never repeat across runs, so it is never replayed into).

use crate::model::{event_name, DeviceEventKind};
use crate::shared::Handler;
use crate::state::TabState;
use coord::handlers::Handlers;
use coord::{AppEvent, Role, ServerEvent};
use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{EventSource, MessageEvent};

pub fn start(state: TabState, handlers: StoredValue<Handlers<Handler>, LocalStorage>, url: &str) {
    state.role.set(Role::Leader);
    state.leader_id.set(Some(state.tab_id.get_untracked()));
    let source = match EventSource::new(url) {
        Ok(source) => source,
        Err(err) => return leptos::logging::error!("tabrelay: cannot open {url}: {err:?}"),
    };
    for name in [
        event_name::DEVICE_ONLINE,
        event_name::DEVICE_OFFLINE,
        event_name::STATS,
        event_name::HELLO,
        event_name::RESET,
    ] {
        let numbered = DeviceEventKind::from_event_name(name).is_some();
        let listener = Closure::<dyn FnMut(MessageEvent)>::new(move |msg: MessageEvent| {
            let data = msg.data().as_string().unwrap_or_default();
            super::deliver(state, name, &data, false, None);
            // `lastEventId` repeats the last id on events without one: only device events own it.
            let id = msg.last_event_id().parse::<u64>().ok().filter(|_| numbered);
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
        // The stream and its listeners live as long as the tab.
        listener.forget();
    }
}
