//! Leptos components. [`shell`] is the HTML document the server renders; [`App`] is what the
//! wasm bundle hydrates.

mod clock;
mod controls;
mod dashboard;
mod devices_panel;
mod event_log;
pub(crate) mod format;
mod frame;
mod markup;
mod server_panel;
mod tabs_panel;
mod this_tab;
pub(crate) mod timeline;

use crate::snapshot::SNAPSHOT_ELEMENT_ID;
use leptos::prelude::*;

const TITLE: &str = "tabrelay: many tabs, one connection";

/// The whole HTML document of the dashboard (`/`), rendered by the server. The title and the
/// stylesheet are plain tags: one page needs neither `leptos_meta` nor `leptos_router` in the
/// wasm bundle.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    // Before the view is built: it renders the same snapshot as this data block.
    let snapshot = crate::snapshot::take_snapshot();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <Head/>
                <script type="application/json" id=SNAPSHOT_ELEMENT_ID inner_html=snapshot></script>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
            </head>
            <body data-role="electing">
                <App/>
            </body>
        </html>
    }
}

/// The document for any other path (served with status 404): static, nothing to hydrate.
pub fn not_found_shell(_options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <Head/>
            </head>
            <body>
                <main><p>"Page not found. The dashboard is at " <a href="/">"/"</a> "."</p></main>
            </body>
        </html>
    }
}

#[component]
fn Head() -> impl IntoView {
    view! {
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <meta name="color-scheme" content="light dark"/>
        <title>{TITLE}</title>
        // `id="leptos"`: cargo-leptos' live reload swaps the stylesheet with this id.
        <link id="leptos" rel="stylesheet" href="/pkg/tabrelay.css"/>
        <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
    }
}

/// The dashboard, the page's only view: what the wasm bundle hydrates.
#[component]
pub fn App() -> impl IntoView {
    dashboard::Dashboard()
}
