//! The dashboard page: what this tab is doing, what the server sees, and what arrives.

use super::clock::use_now;
use super::controls::Controls;
use super::devices_panel::DevicesPanel;
use super::event_log::EventLog;
use super::frame::{provide_page_visible, Paced};
use super::server_panel::ServerPanel;
use super::tabs_panel::TabsPanel;
use super::this_tab::ThisTab;
use super::timeline::LeadershipTimeline;
use crate::model::decode_history;
use crate::snapshot::{use_snapshot, Snapshot};
use crate::source::{page_query, query_value, use_dashboard};
use leptos::either::Either;
use leptos::prelude::*;
use tabrelay::{Election, Mode};

#[component]
pub fn Dashboard() -> impl IntoView {
    let query = page_query();
    let election = Election::from_query(query_value(&query, "election"));
    let mode = Mode::from_query(query_value(&query, "mode"));
    let dashboard = use_dashboard(election, mode);
    let (source, state, view) = (dashboard.source, dashboard.data, dashboard.source.view);
    provide_page_visible();
    if query_value(&query, "ui") == Some("off") {
        return Either::Left(view! { <UiOff/> });
    }
    let snapshot = use_snapshot();
    let devices = snapshot.as_ref().map(|s| s.devices.clone());
    if let Some(snapshot) = &snapshot {
        let history = decode_history(&snapshot.connection_history);
        state.seed_connection_history(&history, clock_shift_ms(snapshot));
    }
    // The live counters once the first `stats` arrived; until then those the page was rendered with.
    let stats = Signal::derive(move || {
        state
            .stats
            .get()
            .or_else(|| snapshot.as_ref().map(|s| s.stats.clone()))
    });
    let now = use_now(250);
    super::markup::tick_ages(now);
    let timeline = Paced::settled_keeping_hidden(view.timeline);

    Either::Right(view! {
        <header
            class="topbar"
            inner_html=r#"<h1>tabrelay</h1><p class="tagline">Every tab of this site shares one server connection.</p>"#.to_string()
        ></header>
        <main class="dashboard">
            <section class="explainer" aria-label="What am I looking at" inner_html=EXPLAINER.to_string()></section>
            <ThisTab state=view mode=source.mode now/>
            <ServerPanel view state stats timeline now/>
            <Controls source/>
            <TabsPanel state=view now/>
            <LeadershipTimeline timeline/>
            <DevicesPanel state snapshot=devices now/>
            <EventLog state/>
        </main>
    })
}

/// What the page shows, in a few words. Static markup: written once, by the server (see
/// `markup`: no view code for it in the bundle).
const EXPLAINER: &str = "<p>Browsers allow only 6 connections per site, so a 7th tab with its own live stream \
hangs. Here one tab, the <strong>leader</strong>, holds the only server connection and relays every event to \
the other tabs, the <strong>followers</strong>, over a BroadcastChannel. Open more tabs: the server's count \
stays at 1. Close the leader: another tab takes over at once and resumes the stream, so no event is lost.</p>";

/// `?ui=off`: the runtime and the tab's state run as usual (election, relay, every event counted
/// in `document.body.dataset`), but no panel renders them. What a page costs then per event is
/// what the library costs an app (`scripts/bench-client --ui=off`).
#[component]
fn UiOff() -> impl IntoView {
    view! {
        <main
            class="ui-off"
            inner_html=r#"<h1>tabrelay</h1><p>The dashboard is off (<code>?ui=off</code>): this tab shares the stream and counts events, and renders none of them.</p>"#.to_string()
        ></main>
    }
}

/// How far this clock is ahead of the server's, taken when the page's snapshot is read (in SSR
/// the server renders with its own clock: no shift). The time between the server taking the
/// snapshot and the browser reading it is counted as skew; it moves the sparkline well under a
/// pixel.
fn clock_shift_ms(snapshot: &Snapshot) -> f64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now() - snapshot.taken_at_ms as f64
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = snapshot;
        0.0
    }
}
