//! "Devices": every device with its state and the time of its last change. Filled from the
//! server's snapshot on first render, then kept live by the events.

use super::format::age;
use super::frame::Paced;
use crate::data::DashboardData;
use crate::model::Device;
use leptos::prelude::*;

#[component]
pub fn DevicesPanel(
    state: DashboardData,
    /// The devices the page was rendered with (`None` if the server had no snapshot).
    snapshot: Option<Vec<Device>>,
    now: ReadSignal<f64>,
) -> impl IntoView {
    let snapshot = StoredValue::new(snapshot);
    // The grid as of the last frame; until this tab has its own device list (hydrated, seeded
    // below), the snapshot. A memo: the list, the count and the caption read one copy.
    let live = Paced::new(state.devices);
    let devices = Memo::new(move |_| {
        let live = live.get();
        if !live.is_empty() {
            return live;
        }
        snapshot.get_value().unwrap_or_default()
    });
    Effect::new(move |_| {
        if let Some(devices) = snapshot.get_value() {
            if state.devices.with_untracked(Vec::is_empty) {
                state.set_devices(devices);
            }
        }
    });
    let online = move || devices.with(|d| d.iter().filter(|d| d.online).count());
    view! {
        <section class="panel devices" aria-labelledby="devices-title">
            <h2 id="devices-title">
                "Devices "
                <span class="caption">{move || format!("{} of {} online", online(), devices.with(Vec::len))}</span>
            </h2>
            <ul class="device-grid">
                <For
                    each=move || devices.get()
                    key=|d: &Device| (d.id.clone(), d.online, d.changed_at_ms, d.name.clone())
                    children=move |d: Device| {
                        let changed = d.changed_at_ms as f64;
                        // Names are free text from the server: rendered as text, never HTML.
                        let label = d.name.clone().unwrap_or_else(|| d.id.clone());
                        let id_caption = d.name.is_some().then(|| d.id.clone());
                        let title = label.clone();
                        view! {
                            <li class="device" class:online=d.online data-device=d.id.clone()>
                                <span class="device-name one-line" title=title>{label}</span>
                                {id_caption.map(|id| {
                                    let title = id.clone();
                                    view! { <span class="caption mono one-line" title=title>{id}</span> }
                                })}
                                <span class="device-state">{if d.online { "online" } else { "offline" }}</span>
                                <span class="caption mono one-line">{move || age(now.get(), changed)}</span>
                            </li>
                        }
                    }
                />
            </ul>
        </section>
    }
}
