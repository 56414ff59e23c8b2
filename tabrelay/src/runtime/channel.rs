//! The channel between the tabs of one origin: a `BroadcastChannel` (`?mode=leader`) or
//! `localStorage` and its `storage` event (`?mode=storage`). Both deliver a posted string to every
//! other tab of the origin and never back to the sender, which is all the core needs; election
//! and relay are the same over either.
//!
//! Written with web-sys rather than leptos-use: `use_broadcast_channel` exposes the latest message
//! as a signal, so a burst of relayed events inside one tick would reach us as its last message
//! only. Every message must reach the core.

use super::feed::Feed;
use super::storage_channel::StorageChannel;
use coord::{Input, Message};
use std::cell::RefCell;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{BroadcastChannel, MessageEvent};

/// A `BroadcastChannel`'s `onmessage` closure.
type OnMessage = Closure<dyn Fn(MessageEvent)>;

pub enum Channel {
    /// `None` while the page is in the back/forward cache (see [`Channel::suspend`]).
    Broadcast {
        name: String,
        channel: RefCell<Option<BroadcastChannel>>,
        /// The `onmessage` closure, freed with the channel.
        on_message: RefCell<Option<OnMessage>>,
    },
    Storage(StorageChannel),
}

impl Channel {
    /// A `BroadcastChannel` named `name`.
    pub fn broadcast(name: &str) -> Result<Self, JsValue> {
        Ok(Self::Broadcast {
            name: name.to_owned(),
            channel: RefCell::new(Some(BroadcastChannel::new(name)?)),
            on_message: RefCell::new(None),
        })
    }

    /// The page enters the back/forward cache: close the `BroadcastChannel`. Browsers evict a
    /// cached page that has one open as soon as a message reaches it (the leader beats four times
    /// a second), so keeping it would turn every return into a reload.
    pub fn suspend(&self) {
        if let Self::Broadcast { channel, .. } = self {
            // Taken out before it is closed: a browser call may call back in (`Driver::run`).
            let taken = channel.borrow_mut().take();
            if let Some(channel) = taken {
                channel.set_onmessage(None);
                channel.close();
            }
        }
    }

    /// Back from the back/forward cache: open the channel again and listen.
    pub fn resume(&self, feed: &Feed) {
        if let Self::Broadcast { name, channel, .. } = self {
            if channel.borrow().is_some() {
                return;
            }
            match BroadcastChannel::new(name) {
                Ok(opened) => *channel.borrow_mut() = Some(opened),
                Err(err) => {
                    return leptos::logging::error!("tabrelay: cannot reopen {name}: {err:?}")
                }
            }
            self.listen(feed);
        }
    }

    /// Closes the channel for good (the runtime stops).
    pub fn close(&self) {
        match self {
            Self::Broadcast { on_message, .. } => {
                self.suspend();
                let closure = on_message.borrow_mut().take();
                drop(closure);
            }
            Self::Storage(channel) => channel.close(),
        }
    }

    /// `localStorage` keys starting with `prefix`.
    pub fn storage(prefix: &str) -> Result<Self, JsValue> {
        Ok(Self::Storage(StorageChannel::open(prefix)?))
    }

    /// Feeds every message to the driver: ours decoded, anything else as `Undecodable` (counted,
    /// otherwise ignored: another script may share the channel name, or a tab may be forged).
    pub fn listen(&self, feed: &Feed) {
        let feed = feed.clone();
        let deliver = move |text: Option<String>| {
            let input = match text.map(|text| Message::decode(&text)) {
                Some(Ok(message)) => Input::Channel(message),
                _ => Input::Undecodable,
            };
            feed.input(input);
        };
        match self {
            Self::Broadcast {
                channel,
                on_message: kept,
                ..
            } => {
                let Some(channel) = channel.borrow().clone() else {
                    return;
                };
                let on_message = Closure::<dyn Fn(MessageEvent)>::new(move |m: MessageEvent| {
                    deliver(m.data().as_string())
                });
                channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
                // Kept until the channel closes; a return from the bfcache replaces it (the
                // channel it listened on is closed by then).
                let replaced = kept.borrow_mut().replace(on_message);
                drop(replaced);
            }
            Self::Storage(channel) => channel.listen(deliver),
        }
    }

    /// A native function that posts `text` when called with any arguments, with no wasm
    /// involved (a bound `postMessage`, or `setItem` under a fresh key): what `Driver::leave`
    /// arms as `pagehide` listeners. `None` while the channel is suspended.
    pub fn native_post(&self, text: &str) -> Option<js_sys::Function> {
        match self {
            Self::Broadcast { channel, .. } => {
                let channel = channel.borrow().clone()?;
                let post = js_sys::Reflect::get(&channel, &JsValue::from_str("postMessage"))
                    .ok()?
                    .dyn_into::<js_sys::Function>()
                    .ok()?;
                // `postMessage(text, event)`: the extra argument is ignored.
                Some(JsValue::from(post.bind1(&channel, &JsValue::from_str(text))).unchecked_into())
            }
            Self::Storage(channel) => channel.native_post(text),
        }
    }

    pub fn post(&self, message: &Message) {
        let text = message.encode();
        let posted = match self {
            // Cloned out: `postMessage` may call back in (`Driver::run`).
            Self::Broadcast { channel, .. } => match channel.borrow().clone() {
                Some(channel) => channel.post_message(&JsValue::from_str(&text)),
                None => return, // in the bfcache: nobody to talk to
            },
            Self::Storage(channel) => channel.post(&text),
        };
        if let Err(err) = posted {
            leptos::logging::warn!("tabrelay: posting on the channel failed: {err:?}");
        }
    }
}
