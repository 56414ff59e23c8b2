//! "Events": what this tab received, newest first, with how it got here. Filter by kind; pause the
//! view (events keep arriving and counting while it is paused).
//!
//! The rows are not a reactive list. A render adds the events that are new since the last one as
//! one HTML string (`insertAdjacentHTML`, one DOM call for the whole batch) and drops the rows
//! that fell off the end of the log: a keyed list re-diffed 500 keys and built each new row with
//! ~20 DOM calls through wasm-bindgen, which was most of what an event cost a tab. The filter is
//! a CSS rule on the body (rows stay in the DOM, as the testing contract wants every received
//! event there).

use super::format::{clock_time, decimal, escape_into};
use super::frame::Paced;
use super::markup::{keep_attribute, keep_text};
use crate::data::{DashboardData, ReceivedEvent};
use leptos::prelude::*;
use std::fmt::Write;

#[component]
pub fn EventLog(state: DashboardData) -> impl IntoView {
    let filter = RwSignal::new("all");
    let paused = RwSignal::new(false);
    // The log and the count as of the last render: a burst of events renders once. The rows go
    // in while the page is hidden too (once a second): the testing contract wants every event
    // this tab received in the DOM.
    let log = Paced::keeping_hidden(state.events);
    let received = Paced::new(state.events_received);
    // While the page is hidden the rows skip style, layout and paint altogether (CSS:
    // `content-visibility: hidden`, which keeps the log's size and scroll position for when it
    // shows); they are still written, the contract wants them in the DOM.
    let visible = super::frame::use_page_visible();
    keep_attribute(
        BODY_ID,
        "data-filter",
        Signal::derive(move || Some(filter.get().to_string())),
    );
    keep_attribute(
        BODY_ID,
        "data-asleep",
        Signal::derive(move || (!visible.get()).then(String::new)),
    );
    keep_attribute(
        PAUSE_ID,
        "aria-pressed",
        Signal::derive(move || Some(paused.get().to_string())),
    );
    keep_text(
        PAUSE_ID,
        Signal::derive(move || {
            (if paused.get() {
                "Resume view"
            } else {
                "Pause view"
            })
            .to_string()
        }),
    );
    keep_text(
        RECEIVED_ID,
        Signal::derive(move || received.get().to_string()),
    );
    #[cfg(feature = "hydrate")]
    {
        // The newest event's `seq` the body shows (`None`: none yet).
        let shown: StoredValue<Option<u64>, LocalStorage> = StoredValue::new_local(None);
        Effect::new(move |_| {
            let paused = paused.get();
            let Some(body) = document().get_element_by_id(BODY_ID) else {
                return;
            };
            log.with(|log| {
                // While paused the rows stay as they were; resuming catches up.
                if !paused {
                    sync_rows(&body, log, shown);
                }
            });
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = log;
    // One listener each for the toolbar's button and its filter: the panel's markup is a string
    // (see `markup`).
    let on_click = move |ev: leptos::ev::MouseEvent| {
        if target_attribute(&ev, "id").as_deref() == Some(PAUSE_ID) {
            paused.update(|p| *p = !*p);
        }
    };
    let on_filter = move |ev: leptos::ev::Event| {
        filter.set(match event_target_value(&ev).as_str() {
            "online" => "online",
            "offline" => "offline",
            _ => "all",
        })
    };
    view! {
        <section
            class="panel events"
            aria-labelledby="events-title"
            on:click=on_click
            on:change=on_filter
            inner_html=PANEL.to_string()
        ></section>
    }
}

const BODY_ID: &str = "event-body";
const PAUSE_ID: &str = "events-pause";
const RECEIVED_ID: &str = "events-received";

/// An attribute of the element a click landed on.
fn target_attribute(ev: &leptos::ev::MouseEvent, name: &str) -> Option<String> {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        ev.target()?
            .dyn_into::<web_sys::Element>()
            .ok()?
            .get_attribute(name)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (ev, name);
        None
    }
}

/// The panel as the server renders it, empty (the server's page has no events): the toolbar, the
/// column heads, and the body `sync_rows` writes.
///
/// The log scrolls inside the panel, both ways: on a narrow screen every column stays reachable.
/// Rows are a grid with fixed tracks (an event never re-sizes the columns), and rows out of sight
/// are skipped by layout and paint (`content-visibility`), so a new row at the top costs about the
/// same with 5 rows or 500. The body is a polite live region: screen readers hear new events
/// without being interrupted.
const PANEL: &str = concat!(
    r#"<div class="panel-head"><h2 id="events-title">Events <span class="caption"><span id="events-received">0</span> received</span></h2>"#,
    r#"<div class="toolbar"><label>Show <select><option value="all">all kinds</option><option value="online">device-online</option><option value="offline">device-offline</option></select></label>"#,
    r#"<button type="button" id="events-pause" aria-pressed="false">Pause view</button></div></div>"#,
    r#"<div class="event-scroll" role="region" aria-labelledby="events-title" tabindex="0"><div class="event-table" role="table" aria-labelledby="events-title">"#,
    r#"<div class="event-head" role="rowgroup"><div class="event-row" role="row"><span role="columnheader">Id</span><span role="columnheader">Kind</span><span role="columnheader">Device</span><span role="columnheader">Time (UTC)</span><span role="columnheader">Via</span><span role="columnheader">Relay latency</span></div></div>"#,
    r#"<div class="event-body" id="event-body" role="rowgroup" aria-live="polite" aria-relevant="additions" data-filter="all"></div></div></div>"#,
);

/// Brings the body's rows in line with `log` (newest first): the events newer than `shown` go in
/// at the top as one HTML string, rows beyond the log's length come off the bottom.
#[cfg(feature = "hydrate")]
fn sync_rows(
    body: &web_sys::Element,
    log: &std::collections::VecDeque<std::sync::Arc<ReceivedEvent>>,
    shown: StoredValue<Option<u64>, LocalStorage>,
) {
    let newest_shown = shown.get_value();
    let fresh = log
        .iter()
        .take_while(|e| newest_shown.is_none_or(|seq| e.seq > seq))
        .count();
    if fresh > 0 {
        let mut html = String::with_capacity(fresh * 420);
        for received in log.iter().take(fresh) {
            row_html(&mut html, received);
        }
        if fresh == log.len() {
            // Every row is new (first render, or more than a whole log since the last one).
            body.set_inner_html(&html);
        } else {
            let _ = body.insert_adjacent_html("afterbegin", &html);
        }
        shown.set_value(log.front().map(|e| e.seq));
    }
    let mut extra = (body.child_element_count() as usize).saturating_sub(log.len());
    while extra > 0 {
        match body.last_element_child() {
            Some(row) => row.remove(),
            None => break,
        }
        extra -= 1;
    }
}

/// One row of the log, as HTML. Ids and times are one line each; a long device label is cut with
/// an ellipsis and shown whole in its `title`. Device ids and names are free text from the
/// server: escaped, never markup.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
fn row_html(out: &mut String, received: &ReceivedEvent) {
    let ReceivedEvent {
        event,
        relayed,
        relay_latency_ms,
        received_at_ms,
        ..
    } = received;
    let kind = event.kind.event_name();
    let id = event.id;
    let _ = write!(
        out,
        r#"<div class="event-row" role="row" data-event-id="{id}" data-kind="{kind}" data-received-at="{}""#,
        decimal(*received_at_ms, 3)
    );
    if let Some(ms) = relay_latency_ms {
        let _ = write!(out, r#" data-latency="{}""#, decimal(*ms, 3));
    }
    let _ = write!(
        out,
        r#"><span role="cell" class="mono one-line">{id}</span><span role="cell" class="kind">{kind}</span><span role="cell" class="event-device one-line" title=""#
    );
    match &event.name {
        Some(name) => {
            escape_into(out, name);
            out.push_str(" (");
            escape_into(out, &event.device);
            out.push(')');
        }
        None => escape_into(out, &event.device),
    }
    out.push_str("\">");
    escape_into(out, event.name.as_deref().unwrap_or(&event.device));
    let _ = write!(
        out,
        r#"</span><span role="cell" class="mono one-line">{}</span><span role="cell" class="via">{}</span><span role="cell" class="mono one-line">"#,
        clock_time(event.at_ms as f64),
        if *relayed { "relayed" } else { "direct" }
    );
    if let Some(ms) = relay_latency_ms {
        out.push_str(&decimal(*ms, 2));
        out.push_str(" ms");
    }
    out.push_str("</span></div>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DeviceEvent, DeviceEventKind};

    fn received(name: Option<&str>, latency: Option<f64>) -> ReceivedEvent {
        ReceivedEvent {
            seq: 0,
            run: 0,
            event: DeviceEvent {
                id: 42,
                device: "d<1>".into(),
                kind: DeviceEventKind::DeviceOffline,
                at_ms: 86_400_000 + 3_723_004,
                name: name.map(Into::into),
            },
            relayed: latency.is_some(),
            relay_latency_ms: latency,
            received_at_ms: 1_764_464_284_123.456_7,
        }
    }

    #[test]
    fn a_row_carries_the_contracts_attributes_and_escapes_free_text() {
        let mut html = String::new();
        row_html(
            &mut html,
            &received(Some(r#"Lamp "A" & <b>"#), Some(1.234_5)),
        );
        assert!(html.starts_with(r#"<div class="event-row" role="row" data-event-id="42" data-kind="device-offline" data-received-at="1764464284123.457" data-latency="1.234">"#), "{html}");
        assert!(html.contains(r#"title="Lamp &quot;A&quot; &amp; &lt;b&gt; (d&lt;1&gt;)">Lamp &quot;A&quot; &amp; &lt;b&gt;</span>"#), "{html}");
        assert!(html.contains(">01:02:03.004<"), "{html}");
        assert!(html.contains(r#"class="via">relayed<"#), "{html}");
        assert!(html.ends_with(">1.23 ms</span></div>"), "{html}");
        assert_eq!(html.matches("role=\"cell\"").count(), 6);
        assert!(!html.contains("<b>"), "no markup from the server's text");
    }

    #[test]
    fn the_empty_panel_has_what_the_listeners_and_effects_look_for() {
        for id in [BODY_ID, PAUSE_ID, RECEIVED_ID] {
            assert_eq!(PANEL.matches(&format!(r#"id="{id}""#)).count(), 1, "{id}");
        }
        assert!(!PANEL.contains("data-event-id"));
    }

    #[test]
    fn a_direct_row_has_no_latency() {
        let mut html = String::new();
        row_html(&mut html, &received(None, None));
        assert!(!html.contains("data-latency"), "{html}");
        assert!(
            html.contains(r#"title="d&lt;1&gt;">d&lt;1&gt;</span>"#),
            "{html}"
        );
        assert!(html.contains(r#"class="via">direct<"#), "{html}");
        assert!(
            html.ends_with(r#"<span role="cell" class="mono one-line"></span></div>"#),
            "{html}"
        );
    }
}
