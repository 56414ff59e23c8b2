//! "Devices": every device with its state and the time of its last change. Filled from the
//! server's snapshot on first render, then kept live by the events.

use super::format::age;
use crate::model::Device;
use crate::snapshot::Snapshot;
use crate::state::TabState;
use leptos::prelude::*;

#[component]
pub fn DevicesPanel(
    state: TabState,
    snapshot: Resource<Option<Snapshot>>,
    now: ReadSignal<f64>,
) -> impl IntoView {
    // Until this tab has its own device list (hydrated, seeded below), show the snapshot.
    let devices = move || {
        let live = state.devices.get();
        if !live.is_empty() {
            return live;
        }
        snapshot
            .get()
            .flatten()
            .map(|s| s.devices)
            .unwrap_or_default()
    };
    Effect::new(move |_| {
        if let Some(Some(snapshot)) = snapshot.get() {
            if state.devices.with_untracked(Vec::is_empty) {
                state.set_devices(snapshot.devices);
            }
        }
    });
    let online = move || devices().iter().filter(|d| d.online).count();
    view! {
        <section class="panel devices" aria-labelledby="devices-title">
            <h2 id="devices-title">
                "Devices "
                <Suspense fallback=|| ()>
                    <span class="caption">{move || format!("{} of {} online", online(), devices().len())}</span>
                </Suspense>
            </h2>
            <Suspense fallback=|| view! { <p class="caption">"Loading devices…"</p> }>
                <ul class="device-grid">
                    <For
                        each=devices
                        key=|d: &Device| (d.id.clone(), d.online, d.changed_at_ms, d.name.clone())
                        children=move |d: Device| {
                            let changed = d.changed_at_ms as f64;
                            // Names are free text from the server: rendered as text, never HTML.
                            let label = d.name.clone().unwrap_or_else(|| d.id.clone());
                            let id_caption = d.name.is_some().then(|| d.id.clone());
                            view! {
                                <li class="device" class:online=d.online data-device=d.id.clone()>
                                    <span class="device-name">{label}</span>
                                    {id_caption.map(|id| view! { <span class="caption mono">{id}</span> })}
                                    <span class="device-state">{if d.online { "online" } else { "offline" }}</span>
                                    <span class="caption mono">{move || age(now.get(), changed)}</span>
                                </li>
                            }
                        }
                    />
                </ul>
            </Suspense>
        </section>
    }
    // Erased: keeps the page's view type shallow enough for release builds (rustc query depth).
    .into_any()
}
