//! Small web-sys helpers the runtime needs.

use crate::state::TabState;
use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

pub fn window() -> web_sys::Window {
    web_sys::window().expect("a browser window")
}

/// `navigator.locks`, or `None` where the page is not a secure context.
pub fn lock_manager() -> Option<web_sys::LockManager> {
    let navigator = window().navigator();
    let locks = js_sys::Reflect::get(&navigator, &JsValue::from_str("locks")).ok()?;
    (!locks.is_undefined() && !locks.is_null()).then(|| navigator.locks())
}

/// A short random id, unique enough among the tabs of one browser.
pub fn random_tab_id() -> String {
    let n = (js_sys::Math::random() * f64::from(u32::MAX)) as u32;
    format!("{n:08x}")
}

/// Keeps the testing contract's `document.body.dataset` in step with the tab's state.
pub fn mirror_state_on_body(state: TabState) {
    Effect::new(move |_| {
        let Some(body) = window().document().and_then(|d| d.body()) else {
            return;
        };
        let data = body.dataset();
        let _ = data.set("role", state.role.get().as_str());
        let _ = data.set("tabId", &state.tab_id.get());
        let _ = data.set("leaderId", &state.leader_id.get().unwrap_or_default());
        let _ = data.set("eventsReceived", &state.events_received.get().to_string());
    });
}

/// Calls `f` every `ms` milliseconds for the rest of the tab's life.
pub fn set_interval(ms: i32, f: impl FnMut() + 'static) {
    let callback = Closure::<dyn FnMut()>::new(f);
    let _ = window().set_interval_with_callback_and_timeout_and_arguments_0(
        callback.as_ref().unchecked_ref(),
        ms,
    );
    // Leaked on purpose: the timer runs for the tab's whole life.
    callback.forget();
}
