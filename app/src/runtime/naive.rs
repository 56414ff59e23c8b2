//! `?mode=naive`: this tab opens its own `EventSource`, as a page would without tabrelay. It is
//! the baseline that shows the problem: one browser allows 6 HTTP/1.1 connections per host, so
//! the 7th naive tab stalls (its page does not even load).
//!
//! No coordination, no relay: the browser's own `EventSource` reconnect is used as is.

use crate::model::event_name;
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
    ] {
        let listener = Closure::<dyn FnMut(MessageEvent)>::new(move |msg: MessageEvent| {
            let data = msg.data().as_string().unwrap_or_default();
            super::deliver(state, name, &data, false, None);
            let id = msg.last_event_id().parse::<u64>().ok();
            let event = AppEvent::Event {
                event: ServerEvent::new(id.filter(|_| name != event_name::STATS), name, data),
                relayed: false,
                latency: None,
            };
            super::call_handlers(handlers, &event);
        });
        let _ = source.add_event_listener_with_callback(name, listener.as_ref().unchecked_ref());
        // The stream and its listeners live as long as the tab.
        listener.forget();
    }
}
