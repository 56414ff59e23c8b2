//! "Events": what this tab received, newest first, with how it got here. Filter by kind; pause the
//! view (events keep arriving and counting while it is paused).

use super::format::{clock_time, decimal};
use super::frame::Paced;
use crate::data::{DashboardData, ReceivedEvent};
use leptos::prelude::*;
use std::collections::VecDeque;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KindFilter {
    All,
    Online,
    Offline,
}

#[component]
pub fn EventLog(state: DashboardData) -> impl IntoView {
    let filter = RwSignal::new(KindFilter::All);
    let paused = RwSignal::new(false);
    // The log and the count as of the last frame: a burst of events renders once.
    let log = Paced::new(state.events);
    let received = Paced::new(state.events_received);
    // While paused, the view keeps the log as it was when the pause began.
    let frozen: RwSignal<Option<VecDeque<Arc<ReceivedEvent>>>> = RwSignal::new(None);
    let toggle_pause = move |_| {
        let pause = !paused.get_untracked();
        frozen.set(pause.then(|| state.events.get_untracked()));
        paused.set(pause);
    };
    let shown = move || {
        // Read once per render, not once per row.
        let filter = filter.get();
        let keep = |e: &ReceivedEvent| match filter {
            KindFilter::All => true,
            KindFilter::Online => e.event.kind.online(),
            KindFilter::Offline => !e.event.kind.online(),
        };
        match frozen.get() {
            Some(log) => log.into_iter().filter(|e| keep(e)).collect::<Vec<_>>(),
            None => log.with(|log| log.iter().filter(|e| keep(e)).cloned().collect()),
        }
    };
    let on_filter = move |ev| {
        filter.set(match event_target_value(&ev).as_str() {
            "online" => KindFilter::Online,
            "offline" => KindFilter::Offline,
            _ => KindFilter::All,
        })
    };
    view! {
        <section class="panel events" aria-labelledby="events-title">
            <div class="panel-head">
                <h2 id="events-title">
                    "Events " <span class="caption">{move || received.get()} " received"</span>
                </h2>
                <div class="toolbar">
                    <label>
                        "Show "
                        <select on:change=on_filter>
                            <option value="all">"all kinds"</option>
                            <option value="online">"device-online"</option>
                            <option value="offline">"device-offline"</option>
                        </select>
                    </label>
                    <button type="button" on:click=toggle_pause aria-pressed=move || paused.get().to_string()>
                        {move || if paused.get() { "Resume view" } else { "Pause view" }}
                    </button>
                </div>
            </div>
            // The log scrolls inside the panel, both ways: on a narrow screen every column stays
            // reachable. Rows are a grid with fixed tracks (an event never re-sizes the columns),
            // and rows out of sight are skipped by layout and paint (`content-visibility`), so a
            // new row at the top costs about the same with 5 rows or 500.
            <div class="event-scroll" role="region" aria-labelledby="events-title" tabindex="0">
                <div class="event-table" role="table" aria-labelledby="events-title">
                    <div class="event-head" role="rowgroup">
                        <div class="event-row" role="row">
                            <span role="columnheader">"Id"</span>
                            <span role="columnheader">"Kind"</span>
                            <span role="columnheader">"Device"</span>
                            <span role="columnheader">"Time (UTC)"</span>
                            <span role="columnheader">"Via"</span>
                            <span role="columnheader">"Relay latency"</span>
                        </div>
                    </div>
                    // Polite: screen readers hear new events without being interrupted.
                    <div class="event-body" role="rowgroup" aria-live="polite" aria-relevant="additions">
                        <For each=shown key=|received| received.seq children=event_row/>
                    </div>
                </div>
            </div>
        </section>
    }
}

/// One row of the log. Ids and times are one line each; a long device label is cut with an
/// ellipsis and shown whole in its `title`.
fn event_row(received: Arc<ReceivedEvent>) -> impl IntoView {
    let ReceivedEvent {
        event,
        relayed,
        relay_latency_ms,
        received_at_ms,
        ..
    } = &*received;
    let (relayed, relay_latency_ms, received_at_ms) =
        (*relayed, *relay_latency_ms, *received_at_ms);
    let kind = event.kind.event_name();
    let title = match &event.name {
        Some(name) => format!("{name} ({})", event.device),
        None => event.device.clone(),
    };
    let device_label = event.name.clone().unwrap_or_else(|| event.device.clone());
    view! {
        <div
            class="event-row"
            role="row"
            data-event-id=event.id.to_string()
            data-kind=kind
            data-received-at=decimal(received_at_ms, 3)
            data-latency=relay_latency_ms.map(|ms| decimal(ms, 3))
        >
            <span role="cell" class="mono one-line">{event.id}</span>
            <span role="cell" class="kind">{kind}</span>
            <span role="cell" class="event-device one-line" title=title>{device_label}</span>
            <span role="cell" class="mono one-line">{clock_time(event.at_ms as f64)}</span>
            <span role="cell" class="via">{if relayed { "relayed" } else { "direct" }}</span>
            <span role="cell" class="mono one-line">{relay_latency_ms.map(|ms| decimal(ms, 2) + " ms")}</span>
        </div>
    }
}
