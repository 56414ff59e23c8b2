//! "Devices": every device with its state and the time of its last change. Filled from the
//! server's snapshot on first render, then kept live by the events.

use super::format::age;
use crate::model::Device;
use crate::state::TabState;
use leptos::prelude::*;

#[component]
pub fn DevicesPanel(
    state: TabState,
    /// The devices the page was rendered with (`None` if the server had no snapshot).
    snapshot: Option<Vec<Device>>,
    now: ReadSignal<f64>,
) -> impl IntoView {
    let snapshot = StoredValue::new(snapshot);
    // Until this tab has its own device list (hydrated, seeded below), show the snapshot.
    let devices = move || {
        let live = state.devices.get();
        if !live.is_empty() {
            return live;
        }
        snapshot.get_value().unwrap_or_default()
    };
    Effect::new(move |_| {
        if let Some(devices) = snapshot.get_value() {
            if state.devices.with_untracked(Vec::is_empty) {
                state.set_devices(devices);
            }
        }
    });
    let online = move || devices().iter().filter(|d| d.online).count();
    view! {
        <section class="panel devices" aria-labelledby="devices-title">
            <h2 id="devices-title">
                "Devices "
                <span class="caption">{move || format!("{} of {} online", online(), devices().len())}</span>
            </h2>
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
        </section>
    }
}
