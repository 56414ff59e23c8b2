//! Whether the page has left for good (`pagehide`, not into the back/forward cache), and what
//! stops running then.
//!
//! Firefox goes on running a closing page's script after `pagehide` (its `visibilitychange`, its
//! timers, messages, microtasks), and cuts it off part way, at any point, without an exception
//! (seen in 4 of 17 local runs of the re-entry test, always after `pagehide`: a call into the
//! page's wasm that never returned). Code cut off that way runs no destructor: a Leptos lock or
//! a `RefCell` borrow it held stays taken, and the next call that takes it aborts the page's wasm
//! ("unreachable executed": std's lock on one thread aborts rather than wait) or panics. So once
//! the page has left, nothing of it runs that does not have to: the executor polls no task
//! ([`super::executor`]), the driver takes no input but the leave itself and a lock's grant
//! (`Feed`; its own timer finds the core inactive), no mode delivers to the app
//! (`Sink`), the SharedWorker mode lets go of its port, and an app's own listeners and timers
//! ask [`has_left`] first. The goodbye is posted in `pagehide` itself, before any of this
//! matters.

use std::cell::Cell;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

thread_local! {
    static LEFT: Cell<bool> = const { Cell::new(false) };
    static WATCHING: Cell<bool> = const { Cell::new(false) };
}

/// `true` once the page's last `pagehide` has begun (a capture listener of the window, added
/// before any other: it runs first).
pub fn has_left() -> bool {
    LEFT.with(Cell::get)
}

/// Whether a `pagehide` / `pageshow` event is a move into / a return from the back/forward cache.
pub fn is_persisted(event: &web_sys::Event) -> bool {
    js_sys::Reflect::get(event, &JsValue::from_str("persisted"))
        .ok()
        .and_then(|p| p.as_bool())
        .unwrap_or(false)
}

/// Starts watching for the page's last `pagehide`; a second call changes nothing. The listener
/// lives as long as the page.
pub(crate) fn watch() {
    if WATCHING.with(|w| w.replace(true)) {
        return;
    }
    let Some(window) = web_sys::window() else {
        return;
    };
    let listener = Closure::<dyn Fn(web_sys::Event)>::new(|event: web_sys::Event| {
        if !is_persisted(&event) {
            LEFT.with(|left| left.set(true));
        }
    });
    let added = window.add_event_listener_with_callback_and_bool(
        "pagehide",
        listener.as_ref().unchecked_ref(),
        true,
    );
    if added.is_ok() {
        listener.forget();
    }
}
