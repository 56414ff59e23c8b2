//! The browser side of a tab (hydrate only): who leads, the leader's one `EventSource`, and the
//! `BroadcastChannel` relay to the followers.
//!
//! Election uses Web Locks: every tab asks for the lock [`LOCK_NAME`] and holds it for the rest of
//! its life once granted (a promise that never resolves). The browser grants it to one tab at a
//! time, FIFO, and releases it the instant that tab closes or crashes, so the next queued tab
//! takes over without any timeout.
//!
//! Closures handed to the browser are leaked with `Closure::forget`: each lives as long as the tab.

mod dom;
mod wire;

use crate::model::{event_name, DeviceEvent, DeviceEventKind, Stats};
use crate::state::{Role, TabState};
use dom::set_interval;
use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{BroadcastChannel, EventSource, MessageEvent};
use wire::Wire;

/// The Web Lock whose holder is the leader.
pub const LOCK_NAME: &str = "tabrelay-leader";
/// The BroadcastChannel every tab of the origin listens on.
pub const CHANNEL_NAME: &str = "tabrelay";
/// How often the leader announces itself.
const HEARTBEAT_MS: i32 = 500;

/// Starts this tab's runtime. Call once, after hydration.
pub fn start(state: TabState) {
    let tab_id = dom::random_tab_id();
    state.tab_id.set(tab_id.clone());
    dom::mirror_state_on_body(state);

    let channel = match BroadcastChannel::new(CHANNEL_NAME) {
        Ok(channel) => channel,
        Err(err) => {
            leptos::logging::error!("tabrelay: no BroadcastChannel: {err:?}");
            return;
        }
    };
    let tab = Tab {
        id: tab_id,
        state,
        channel,
    };
    tab.listen_to_channel();
    tab.post(&Wire::Hello);
    tab.request_leadership();
}

/// One tab's handles; cloned into the callbacks that need it.
#[derive(Clone)]
struct Tab {
    id: String,
    state: TabState,
    channel: BroadcastChannel,
}

impl Tab {
    fn post(&self, message: &Wire) {
        if let Err(err) = self.channel.post_message(&JsValue::from_str(&message.encode())) {
            leptos::logging::warn!("tabrelay: post failed: {err:?}");
        }
    }

    fn is_leader(&self) -> bool {
        self.state.role.get_untracked() == Role::Leader
    }

    fn listen_to_channel(&self) {
        let tab = self.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |message: MessageEvent| {
            // Anything that is not one of our messages is ignored, never trusted.
            let Some(message) = message.data().as_string().and_then(|s| Wire::decode(&s)) else {
                return;
            };
            tab.on_channel_message(message);
        });
        self.channel
            .set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        on_message.forget();
    }

    fn on_channel_message(&self, message: Wire) {
        match message {
            Wire::Hello if self.is_leader() => self.post(&Wire::Heartbeat {
                leader: self.id.clone(),
            }),
            Wire::Hello => {}
            Wire::Heartbeat { leader } if !self.is_leader() => {
                self.state.role.set(Role::Follower);
                self.state.leader_id.set(Some(leader));
            }
            Wire::Heartbeat { .. } => {}
            Wire::Event { name, data } if !self.is_leader() => {
                apply_server_event(self.state, &name, &data, true);
            }
            Wire::Event { .. } => {}
        }
    }

    fn request_leadership(&self) {
        let Some(locks) = dom::lock_manager() else {
            leptos::logging::warn!("tabrelay: navigator.locks is unavailable (not a secure context?)");
            return;
        };
        let tab = self.clone();
        let on_granted = Closure::<dyn FnMut(JsValue) -> js_sys::Promise>::new(move |_lock| {
            tab.become_leader();
            // Never resolves: the lock is held until the tab closes or crashes.
            js_sys::Promise::new(&mut |_, _| {})
        });
        let _pending = locks.request(LOCK_NAME, on_granted.as_ref().unchecked_ref());
        on_granted.forget();
    }

    fn become_leader(&self) {
        self.state.role.set(Role::Leader);
        self.state.leader_id.set(Some(self.id.clone()));
        let heartbeat = Wire::Heartbeat {
            leader: self.id.clone(),
        };
        self.post(&heartbeat);
        let tab = self.clone();
        set_interval(HEARTBEAT_MS, move || tab.post(&heartbeat));
        self.open_stream();
    }

    /// Opens the one `EventSource`, resuming after the highest id this tab has seen so the server
    /// replays whatever happened during the handover.
    fn open_stream(&self) {
        let highest = self.state.highest_id.get_untracked();
        let url = if highest > 0 {
            format!("/api/events?last_event_id={highest}")
        } else {
            "/api/events".to_string()
        };
        let source = match EventSource::new(&url) {
            Ok(source) => source,
            Err(err) => {
                leptos::logging::error!("tabrelay: cannot open {url}: {err:?}");
                return;
            }
        };
        for name in [
            event_name::DEVICE_ONLINE,
            event_name::DEVICE_OFFLINE,
            event_name::STATS,
        ] {
            let tab = self.clone();
            let on_event = Closure::<dyn FnMut(MessageEvent)>::new(move |message: MessageEvent| {
                let Some(data) = message.data().as_string() else {
                    return;
                };
                apply_server_event(tab.state, name, &data, false);
                tab.post(&Wire::Event {
                    name: name.to_string(),
                    data,
                });
            });
            let _ = source.add_event_listener_with_callback(name, on_event.as_ref().unchecked_ref());
            on_event.forget();
        }
        // No handle is kept: an open EventSource stays alive on its own, and the leader keeps it
        // for the tab's whole life. (Listeners above are leaked for the same reason.)
        drop(source);
    }
}

/// Applies one server event, whether read from the stream or relayed by the leader.
fn apply_server_event(state: TabState, name: &str, data: &str, relayed: bool) {
    if DeviceEventKind::from_event_name(name).is_some() {
        match serde_json::from_str::<DeviceEvent>(data) {
            Ok(event) => {
                state.record(event, relayed);
            }
            Err(err) => leptos::logging::warn!("tabrelay: bad {name} payload: {err}"),
        }
    } else if name == event_name::STATS {
        if let Ok(stats) = serde_json::from_str::<Stats>(data) {
            state.open_connections.set(Some(stats.open_connections));
        }
    }
}
