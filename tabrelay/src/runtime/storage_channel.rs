//! `?mode=storage`: tabs talk through `localStorage`, the scheme pages used before
//! BroadcastChannel existed. Writing a key fires a `storage` event in every *other* tab of the
//! origin, carrying the new value.
//!
//! Each message is written under a key of its own (`prefix` + sender + sequence number) and
//! removed at once: a fresh key always changes, so no two messages can merge into one event (the
//! event only fires when a value changes), and storage never fills up. The removal fires a
//! second event with no new value, which is skipped.

use super::listeners::Listeners;
use std::cell::{Cell, RefCell};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Storage, StorageEvent};

pub struct StorageChannel {
    storage: Storage,
    prefix: String,
    /// Makes this tab's keys unique among tabs (random) and among its own messages (counter).
    sender: u64,
    next: Cell<u64>,
    /// The `storage` listener, removed when the channel closes.
    listening: RefCell<Option<Listeners>>,
}

impl StorageChannel {
    pub fn open(prefix: &str) -> Result<Self, JsValue> {
        let storage = web_sys::window()
            .ok_or_else(|| JsValue::from_str("no window"))?
            .local_storage()?
            .ok_or_else(|| JsValue::from_str("localStorage is unavailable"))?;
        let channel = Self {
            storage,
            prefix: prefix.to_owned(),
            sender: (js_sys::Math::random() * 2f64.powi(53)) as u64,
            next: Cell::new(0),
            listening: RefCell::new(None),
        };
        channel.sweep();
        Ok(channel)
    }

    /// Removes keys a crashed tab wrote and never removed (they would sit in storage forever).
    /// Live tabs remove theirs within the same task, so a key seen here is an orphan.
    fn sweep(&self) {
        let len = self.storage.length().unwrap_or(0);
        let orphans: Vec<String> = (0..len)
            .filter_map(|i| self.storage.key(i).ok().flatten())
            .filter(|key| key.starts_with(&self.prefix))
            .collect();
        for key in orphans {
            let _ = self.storage.remove_item(&key);
        }
    }

    pub fn post(&self, text: &str) -> Result<(), JsValue> {
        let n = self.next.get();
        self.next.set(n + 1);
        let key = format!("{}{:x}:{n:x}", self.prefix, self.sender);
        self.storage.set_item(&key, text)?;
        self.storage.remove_item(&key)
    }

    /// `setItem(<a fresh key>, text)` as a native function (see `Channel::native_post`). The key
    /// is not removed after (the page is going away): the next tab to open sweeps it.
    pub fn native_post(&self, text: &str) -> Option<js_sys::Function> {
        let n = self.next.get();
        self.next.set(n + 1);
        let key = format!("{}{:x}:{n:x}", self.prefix, self.sender);
        let set = js_sys::Reflect::get(&self.storage, &JsValue::from_str("setItem"))
            .ok()?
            .dyn_into::<js_sys::Function>()
            .ok()?;
        let bound = set.bind2(
            &self.storage,
            &JsValue::from_str(&key),
            &JsValue::from_str(text),
        );
        Some(JsValue::from(bound).unchecked_into())
    }

    /// Calls `deliver` with the value of every message key another tab writes, until
    /// [`StorageChannel::close`].
    pub fn listen(&self, deliver: impl Fn(Option<String>) + 'static) {
        let prefix = self.prefix.clone();
        let mut listeners = Listeners::default();
        if let Some(window) = web_sys::window() {
            listeners.add(&window, "storage", move |event: web_sys::Event| {
                let Some(event) = event.dyn_ref::<StorageEvent>() else {
                    return;
                };
                if let Some(value) = crate::inbox::storage_message(
                    &prefix,
                    event.key().as_deref(),
                    event.new_value(),
                ) {
                    deliver(Some(value));
                }
            });
        }
        let replaced = self.listening.borrow_mut().replace(listeners);
        drop(replaced);
    }

    /// Stops listening.
    pub fn close(&self) {
        let listening = self.listening.borrow_mut().take();
        drop(listening);
    }
}
