//! "Events": what this tab received, newest first, with how it got here. Filter by kind; pause the
//! view (events keep arriving and counting while it is paused).

use super::format::clock_time;
use crate::state::{ReceivedEvent, TabState};
use leptos::prelude::*;
use std::collections::VecDeque;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KindFilter {
    All,
    Online,
    Offline,
}

#[component]
pub fn EventLog(state: TabState) -> impl IntoView {
    let filter = RwSignal::new(KindFilter::All);
    let paused = RwSignal::new(false);
    // While paused, the view keeps the log as it was when the pause began.
    let frozen: RwSignal<Option<VecDeque<ReceivedEvent>>> = RwSignal::new(None);
    let toggle_pause = move |_| {
        let pause = !paused.get_untracked();
        frozen.set(pause.then(|| state.events.get_untracked()));
        paused.set(pause);
    };
    let shown = move || {
        let keep = |e: &ReceivedEvent| match filter.get() {
            KindFilter::All => true,
            KindFilter::Online => e.event.kind.online(),
            KindFilter::Offline => !e.event.kind.online(),
        };
        match frozen.get() {
            Some(log) => log.into_iter().filter(keep).collect::<Vec<_>>(),
            None => state
                .events
                .with(|log| log.iter().filter(|e| keep(e)).cloned().collect()),
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
                    "Events " <span class="caption">{move || state.events_received.get()} " received"</span>
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
            <table class="event-table">
                <thead>
                    <tr>
                        <th scope="col">"Id"</th><th scope="col">"Kind"</th><th scope="col">"Device"</th>
                        <th scope="col">"Time (UTC)"</th><th scope="col">"Via"</th><th scope="col">"Relay latency"</th>
                    </tr>
                </thead>
                // Polite: screen readers hear new events without being interrupted.
                <tbody aria-live="polite" aria-relevant="additions">
                    <For
                        each=shown
                        key=|received| received.seq
                        children=|received: ReceivedEvent| {
                            let ReceivedEvent { event, relayed, relay_latency_ms, received_at_ms, .. } = received;
                            let kind = event.kind.event_name();
                            let device_label = event.name.clone().unwrap_or_else(|| event.device.clone());
                            view! {
                                <tr
                                    data-event-id=event.id.to_string()
                                    data-kind=kind
                                    data-received-at=received_at_ms.to_string()
                                    data-latency=relay_latency_ms.map(|ms| ms.to_string())
                                >
                                    <td class="mono">{event.id}</td>
                                    <td class="kind">{kind}</td>
                                    <td class="device" title=event.device.clone()>
                                        {device_label}
                                    </td>
                                    <td class="mono">{clock_time(event.at_ms as f64)}</td>
                                    <td class="via">{if relayed { "relayed" } else { "direct" }}</td>
                                    <td class="mono">{relay_latency_ms.map(|ms| format!("{ms:.2} ms"))}</td>
                                </tr>
                            }
                        }
                    />
                </tbody>
            </table>
        </section>
    }
}
