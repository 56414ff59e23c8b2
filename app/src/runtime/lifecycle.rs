//! Page Lifecycle and network signals, fed to the core.
//!
//! `pagehide` / `pageshow` / `online` use Leptos' `window_event_listener_untyped`. `freeze`,
//! `resume` and `visibilitychange` are fired at the document, which Leptos has no helper for.

use super::driver::Driver;
use coord::Input;
use leptos::prelude::window_event_listener_untyped;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Document, VisibilityState};

pub fn is_visible(document: &Document) -> bool {
    document.visibility_state() == VisibilityState::Visible
}

/// Whether a `pageshow` event is a return from the back/forward cache.
pub fn is_persisted(event: &web_sys::Event) -> bool {
    js_sys::Reflect::get(event, &JsValue::from_str("persisted"))
        .ok()
        .and_then(|p| p.as_bool())
        .unwrap_or(false)
}

pub fn listen(driver: &Rc<Driver>) {
    let on = |input: fn(&web_sys::Event) -> Option<Input>| {
        let driver = Rc::clone(driver);
        move |event: web_sys::Event| {
            if let Some(input) = input(&event) {
                driver.input(input);
            }
        }
    };
    // The handles are dropped on purpose: these listeners live as long as the tab.
    let hide = Rc::clone(driver);
    let _ = window_event_listener_untyped("pagehide", move |event| {
        // Resign, release the lock, say goodbye; into the bfcache: close the channel after that.
        hide.leave(is_persisted(&event));
    });
    let show = Rc::clone(driver);
    let _ = window_event_listener_untyped("pageshow", move |event| {
        // A first load also fires `pageshow`; only a return from the bfcache is news.
        if is_persisted(&event) {
            show.channel().resume(&show);
            show.input(Input::PageShow); // hello with this tab's position: it catches up by id
        }
    });
    let _ = window_event_listener_untyped("online", on(|_| Some(Input::NetworkOnline)));

    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let add = |name: &str, handler: Box<dyn FnMut(web_sys::Event)>| {
        let closure = Closure::<dyn FnMut(web_sys::Event)>::new(handler);
        let _ = document.add_event_listener_with_callback(name, closure.as_ref().unchecked_ref());
        closure.forget();
    };
    add("freeze", Box::new(on(|_| Some(Input::Frozen))));
    add("resume", Box::new(on(|_| Some(Input::Resumed))));
    let visibility = {
        let driver = Rc::clone(driver);
        let document = document.clone();
        move |_| {
            driver.input(Input::VisibilityChanged {
                visible: is_visible(&document),
            })
        }
    };
    add("visibilitychange", Box::new(visibility));
}
