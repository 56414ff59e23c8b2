//! Leptos components. [`shell`] is the HTML document the server renders; [`App`] is what the
//! wasm bundle hydrates.

mod clock;
mod controls;
mod dashboard;
mod devices_panel;
mod event_log;
mod format;
mod server_panel;
mod tabs_panel;
mod this_tab;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    StaticSegment,
};

/// The whole HTML document, rendered by the server for every page route.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body data-role="electing">
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/tabrelay.css"/>
        <Title text="tabrelay: many tabs, one connection"/>
        <Router>
            <Routes fallback=|| view! { <main><p>"Page not found."</p></main> }>
                <Route path=StaticSegment("") view=dashboard::Dashboard/>
            </Routes>
        </Router>
    }
}
