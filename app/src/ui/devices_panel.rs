//! "Devices": every device with its state and the time of its last change. Filled from the
//! server's snapshot on first render, then kept live by the events. Drawn as one HTML string per
//! device (see `markup`).

use super::format::escape_into;
use super::frame::Paced;
use super::markup::{age_element, keep_rows, keep_text, Row};
use crate::data::DashboardData;
use crate::model::Device;
use leptos::prelude::*;

const GRID_ID: &str = "device-grid";
const COUNT_ID: &str = "devices-online";

#[component]
pub fn DevicesPanel(
    state: DashboardData,
    /// The devices the page was rendered with (`None` if the server had no snapshot).
    snapshot: Option<Vec<Device>>,
    now: ReadSignal<f64>,
) -> impl IntoView {
    let snapshot = StoredValue::new(snapshot);
    // The grid as of the last frame; until this tab has its own device list (hydrated, seeded
    // below), the snapshot. A memo: the rows and the count read one copy.
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
    // The rows' ages are filled and ticked by `markup`: a row changes with its device only.
    let rows = Signal::derive(move || {
        devices.with(|devices| {
            devices
                .iter()
                .map(|d| Row {
                    key: d.id.clone(),
                    html: device_html(d, None),
                })
                .collect()
        })
    });
    let count = Signal::derive(move || devices.with(|d| count_text(d)));
    keep_rows(GRID_ID, rows);
    keep_text(COUNT_ID, count);
    // The server's page shows the ages as of its rendering.
    let rendered = move || {
        let now = now.get_untracked();
        devices.with_untracked(|d| {
            d.iter()
                .map(|d| device_html(d, Some(now)))
                .collect::<String>()
        })
    };
    view! {
        <section class="panel devices" aria-labelledby="devices-title">
            <h2 id="devices-title">
                "Devices " <span class="caption" id=COUNT_ID>{count.get_untracked()}</span>
            </h2>
            <ul class="device-grid" id=GRID_ID inner_html=rendered()></ul>
        </section>
    }
}

/// "3 of 5 online".
fn count_text(devices: &[Device]) -> String {
    let online = devices.iter().filter(|d| d.online).count();
    format!("{online} of {} online", devices.len())
}

/// One device of the grid. Names are free text from the server: escaped, never markup.
fn device_html(device: &Device, now_ms: Option<f64>) -> String {
    let mut out = String::with_capacity(320);
    out.push_str(if device.online {
        r#"<li class="device online" data-device=""#
    } else {
        r#"<li class="device" data-device=""#
    });
    escape_into(&mut out, &device.id);
    out.push_str(r#""><span class="device-name one-line" title=""#);
    let label = device.name.as_deref().unwrap_or(&device.id);
    escape_into(&mut out, label);
    out.push_str("\">");
    escape_into(&mut out, label);
    out.push_str("</span>");
    if device.name.is_some() {
        out.push_str(r#"<span class="caption mono one-line" title=""#);
        escape_into(&mut out, &device.id);
        out.push_str("\">");
        escape_into(&mut out, &device.id);
        out.push_str("</span>");
    }
    out.push_str(r#"<span class="device-state">"#);
    out.push_str(if device.online { "online" } else { "offline" });
    out.push_str("</span>");
    age_element(
        &mut out,
        "span",
        "caption mono one-line",
        now_ms,
        device.changed_at_ms as f64,
    );
    out.push_str("</li>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(id: &str, online: bool, name: Option<&str>) -> Device {
        Device {
            id: id.into(),
            online,
            changed_at_ms: 1_000,
            name: name.map(Into::into),
        }
    }

    #[test]
    fn a_device_shows_its_state_and_escapes_its_free_text() {
        let html = device_html(&device("d<1>", true, Some(r#"Lamp "A""#)), Some(3_000.0));
        assert_eq!(
            html,
            concat!(
                r#"<li class="device online" data-device="d&lt;1&gt;">"#,
                r#"<span class="device-name one-line" title="Lamp &quot;A&quot;">Lamp &quot;A&quot;</span>"#,
                r#"<span class="caption mono one-line" title="d&lt;1&gt;">d&lt;1&gt;</span>"#,
                r#"<span class="device-state">online</span>"#,
                r#"<span class="caption mono one-line" data-age-at="1000">2.0 s ago</span></li>"#
            )
        );
        let offline = device_html(&device("d2", false, None), None);
        assert!(
            offline.starts_with(r#"<li class="device" data-device="d2"><span class="device-name one-line" title="d2">d2</span><span class="device-state">offline</span>"#),
            "{offline}"
        );
    }

    #[test]
    fn the_count_says_how_many_are_online() {
        let devices = [device("a", true, None), device("b", false, None)];
        assert_eq!(count_text(&devices), "1 of 2 online");
        assert_eq!(count_text(&[]), "0 of 0 online");
    }
}
