//! The smallest page on the library: one [`tabrelay::use_shared_event_source`], one handler, one
//! counter. `scripts/bundle-size` builds it for wasm twice, with the `library` feature and
//! without (the same counter on Leptos alone), and prints the difference: what the library adds
//! to an app's bundle. It is only built, never served.

use leptos::prelude::*;

#[cfg(feature = "library")]
#[component]
fn Page() -> impl IntoView {
    use tabrelay::{role_word, use_shared_event_source, AppEvent, Options};
    let source = use_shared_event_source(Options::new("/api/events").events(["device-online"]));
    let count = RwSignal::new(0u64);
    source.on("device-online", move |event| {
        if let AppEvent::Event { .. } = event {
            count.update(|c| *c += 1);
        }
    });
    let view = source.view;
    view! {
        <p>"events: " {move || count.get()} " · this tab: " {move || role_word(view.role.get())}</p>
    }
}

#[cfg(not(feature = "library"))]
#[component]
fn Page() -> impl IntoView {
    let count = RwSignal::new(0u64);
    view! {
        <p on:click=move |_| count.update(|c| *c += 1)>"events: " {move || count.get()}</p>
    }
}

/// The wasm entry point.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    #[cfg(feature = "library")]
    tabrelay::runtime::executor::install();
    leptos::mount::hydrate_body(Page);
}
