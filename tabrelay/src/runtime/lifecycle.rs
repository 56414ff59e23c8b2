//! Page Lifecycle and network signals, fed to the core.
//!
//! `pagehide` / `pageshow` / `online` are fired at the window; `freeze`, `resume` and
//! `visibilitychange` at the document. Leptos' `window_event_listener_untyped` is not used: its
//! listeners are `FnMut` (see `Listeners::add`).

use super::feed::{Feed, Report};
use super::listeners::Listeners;
use coord::Input;
use web_sys::{Document, VisibilityState};

/// Whether the page is visible (`visibilityState`).
pub fn is_visible(document: &Document) -> bool {
    document.visibility_state() == VisibilityState::Visible
}

pub use super::leaving::is_persisted;

/// Reports the page's lifecycle to `feed` for as long as the returned listeners live.
pub fn listen(feed: &Feed) -> Listeners {
    let mut listeners = Listeners::default();
    let on = |input: fn(&web_sys::Event) -> Option<Input>| {
        let feed = feed.clone();
        move |event: web_sys::Event| {
            if let Some(input) = input(&event) {
                feed.input(input);
            }
        }
    };
    let Some(window) = web_sys::window() else {
        return listeners;
    };
    let hide = feed.clone();
    listeners.add(&window, "pagehide", move |event| {
        // Resign, release the lock, say goodbye; into the bfcache: close the channel after that.
        hide.report(Report::Leave {
            persisted: is_persisted(&event),
        });
    });
    let show = feed.clone();
    listeners.add(&window, "pageshow", move |event| {
        // A first load also fires `pageshow`; only a return from the bfcache is news.
        if is_persisted(&event) {
            show.report(Report::Return);
        }
    });
    listeners.add(&window, "online", on(|_| Some(Input::NetworkOnline)));

    let Some(document) = window.document() else {
        return listeners;
    };
    listeners.add(&document, "freeze", on(|_| Some(Input::Frozen)));
    listeners.add(&document, "resume", on(|_| Some(Input::Resumed)));
    let visibility = {
        let feed = feed.clone();
        let document = document.clone();
        move |_| {
            feed.input(Input::VisibilityChanged {
                visible: is_visible(&document),
            })
        }
    };
    listeners.add(&document, "visibilitychange", visibility);
    listeners
}
