//! A price ticker on the `tabrelay` library, with nothing of the dashboard: its own server
//! (`main.rs`), its own stream (`/api/prices`), its own event names (`price` with ids, `viewers`
//! without), its own names for the tabs' channel and lock (`ticker`). Open it in 20 tabs: the
//! server counts one viewer.
//!
//! The page uses only the library's public API: [`use_shared_event_source`], `on_json`, `on`
//! and the [`tabrelay::TabView`] signals.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tabrelay::{role_word, use_shared_event_source, AppEvent, Options, ANY_EVENT};

/// One price: what the server sends as a `price` event's data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Price {
    pub symbol: String,
    pub cents: u64,
}

/// The `viewers` event's data: streams open on the ticker's server.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Viewers {
    pub open: u64,
}

/// The HTML document the server renders.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <title>"ticker: every tab, one stream"</title>
                <HydrationScripts options/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Ticks shown: the newest this many.
const SHOWN: usize = 200;

/// The ticker's options: its stream, its event names, its own channel and lock names. With
/// `?events=all` the tabs take every event, whatever its name (read with `fetch`).
fn options() -> Options {
    let options = Options::new("/api/prices").namespace("ticker");
    if takes_every_event() {
        options.all_events()
    } else {
        options.events(["price", "viewers"])
    }
}

fn takes_every_event() -> bool {
    #[cfg(feature = "hydrate")]
    {
        window()
            .location()
            .search()
            .is_ok_and(|query| query.contains("events=all"))
    }
    #[cfg(not(feature = "hydrate"))]
    {
        false
    }
}

/// The page: the ticker, which the button takes down and brings back (its tab leaves and
/// rejoins: tabrelay's cleanup goes with the component's owner).
#[component]
pub fn App() -> impl IntoView {
    let shown = RwSignal::new(true);
    view! {
        <main>
            <h1>"ticker"</h1>
            <button id="toggle" on:click=move |_| shown.update(|s| *s = !*s)>
                {move || if shown.get() { "Stop the ticker" } else { "Start the ticker" }}
            </button>
            <Show when=move || shown.get()>
                <Status/>
                <Ticker/>
            </Show>
        </main>
    }
}

/// This tab's part in the sharing. A second mount of the hook with the same options: it shares
/// the [`Ticker`]'s runtime, so the page is still one tab (`#status-tab` is `#tab`).
#[component]
fn Status() -> impl IntoView {
    let view = use_shared_event_source(options()).view;
    view! {
        <p>
            "This tab: " <output id="role">{move || role_word(view.role.get())}</output>
            " · id " <output id="status-tab">{move || view.tab_id.get()}</output>
            " · leader " <output id="leader">{move || view.leader_id.get().unwrap_or_default()}</output>
            " · tabs " <output id="tabs">{move || view.tabs.with(Vec::len)}</output>
        </p>
    }
}

#[component]
fn Ticker() -> impl IntoView {
    let source = use_shared_event_source(options());
    let prices = RwSignal::new(BTreeMap::<String, u64>::new());
    let ticks = RwSignal::new(Vec::<(u64, Price)>::new());
    let viewers = RwSignal::new(None::<u64>);

    // `on` hands over the raw event: its id and its data.
    source.on("price", move |event| {
        let AppEvent::Event { event, .. } = event else {
            return;
        };
        let (Some(id), Ok(price)) = (event.id, serde_json::from_str::<Price>(&event.data)) else {
            return;
        };
        prices.update(|prices| {
            prices.insert(price.symbol.clone(), price.cents);
        });
        ticks.update(|ticks| {
            ticks.insert(0, (id, price));
            ticks.truncate(SHOWN);
        });
    });
    // `on_json` decodes the data.
    source.on_json("viewers", move |v: Viewers| viewers.set(Some(v.open)));
    // Every server event: with `?events=all` also those of names this page never listed.
    let others = RwSignal::new(Vec::<(String, Option<u64>, String)>::new());
    source.on(ANY_EVENT, move |event| {
        let AppEvent::Event { event, .. } = event else {
            return;
        };
        if !["price", "viewers", "hello"].contains(&event.name.as_str()) {
            others.update(|others| {
                others.insert(0, (event.name.clone(), event.id, event.data.clone()));
                others.truncate(SHOWN);
            });
        }
    });

    let view = source.view;
    view! {
        <p>
            "id " <output id="tab">{move || view.tab_id.get()}</output>
            " · streams open on the server: "
            <output id="viewers">{move || viewers.get().map(|n| n.to_string()).unwrap_or_default()}</output>
        </p>
        <table>
            <tbody>
                <For each=move || prices.get() key=|(symbol, cents)| (symbol.clone(), *cents) let:row>
                    <tr><th>{row.0}</th><td>{format!("{}.{:02}", row.1 / 100, row.1 % 100)}</td></tr>
                </For>
            </tbody>
        </table>
        <ul id="others">
            <For each=move || others.get() key=|(name, id, data)| (name.clone(), *id, data.clone()) let:other>
                <li data-name=other.0.clone() data-id=other.1.map(|id| id.to_string())>{format!("{} {}", other.0, other.2)}</li>
            </For>
        </ul>
        <ol id="ticks">
            <For each=move || ticks.get() key=|(id, _)| *id let:tick>
                <li data-id=tick.0>{format!("#{} {} {}", tick.0, tick.1.symbol, tick.1.cents)}</li>
            </For>
        </ol>
    }
}

/// The wasm entry: hydrates the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    tabrelay::runtime::executor::install();
    leptos::mount::hydrate_body(App);
}
