//! The channel between the tabs of one origin: a `BroadcastChannel` (`?mode=leader`) or
//! `localStorage` and its `storage` event (`?mode=storage`). Both deliver a posted string to every
//! other tab of the origin and never back to the sender, which is all the core needs; election
//! and relay are the same over either.
//!
//! Written with web-sys rather than leptos-use: `use_broadcast_channel` exposes the latest message
//! as a signal, so a burst of relayed events inside one tick would reach us as its last message
//! only. Every message must reach the core.

use super::driver::Driver;
use super::storage_channel::StorageChannel;
use coord::{Input, Message};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{BroadcastChannel, MessageEvent};

pub enum Channel {
    Broadcast(BroadcastChannel),
    Storage(StorageChannel),
}

impl Channel {
    /// A `BroadcastChannel` named `name`.
    pub fn broadcast(name: &str) -> Result<Self, JsValue> {
        Ok(Self::Broadcast(BroadcastChannel::new(name)?))
    }

    /// `localStorage` keys starting with `prefix`.
    pub fn storage(prefix: &'static str) -> Result<Self, JsValue> {
        Ok(Self::Storage(StorageChannel::open(prefix)?))
    }

    /// Feeds every message to the driver: ours decoded, anything else as `Undecodable` (counted,
    /// otherwise ignored: another script may share the channel name, or a tab may be forged).
    pub fn listen(&self, driver: &Rc<Driver>) {
        let driver = Rc::clone(driver);
        let deliver = move |text: Option<String>| {
            let input = match text.map(|text| Message::decode(&text)) {
                Some(Ok(message)) => Input::Channel(message),
                _ => Input::Undecodable,
            };
            driver.input(input);
        };
        match self {
            Self::Broadcast(channel) => {
                let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |m: MessageEvent| {
                    deliver(m.data().as_string())
                });
                channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
                // Lives as long as the tab.
                on_message.forget();
            }
            Self::Storage(channel) => channel.listen(deliver),
        }
    }

    pub fn post(&self, message: &Message) {
        let text = message.encode();
        let posted = match self {
            Self::Broadcast(channel) => channel.post_message(&JsValue::from_str(&text)),
            Self::Storage(channel) => channel.post(&text),
        };
        if let Err(err) = posted {
            leptos::logging::warn!("tabrelay: posting on the channel failed: {err:?}");
        }
    }
}
