//! `?mode=naive`: this tab opens its own `EventSource`, as a page would without tabrelay. It is
//! the baseline that shows the problem: one browser allows 6 HTTP/1.1 connections per host, so
//! the 7th naive tab stalls (its page does not even load).
//!
//! No coordination, no relay: the browser's own `EventSource` reconnect is used as is.

use super::clock;
use crate::model::{event_name, DeviceEvent, DeviceEventKind, Stats};
use crate::state::TabState;
use coord::Role;
use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{EventSource, MessageEvent};

pub fn start(state: TabState, url: &str) {
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
            if DeviceEventKind::from_event_name(name).is_some() {
                if let Ok(event) = serde_json::from_str::<DeviceEvent>(&data) {
                    if state.queue_event(event, false, None, clock::now_ms()) {
                        set_timeout(move || state.flush_events(), super::RENDER_BATCH);
                    }
                }
            } else if let Ok(stats) = serde_json::from_str::<Stats>(&data) {
                state.record_stats(stats, clock::now_ms());
            }
        });
        let _ = source.add_event_listener_with_callback(name, listener.as_ref().unchecked_ref());
        // The stream and its listeners live as long as the tab.
        listener.forget();
    }
}
