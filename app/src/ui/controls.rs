//! "Controls": open another tab, hand leadership away, inject a device event.

use super::format::escape_into;
use super::markup::{keep_enabled, keep_html};
use crate::model::validate_device_id;
use coord::Role;
use leptos::prelude::*;
use tabrelay::{Mode, SharedEventSource};

#[component]
pub fn Controls(source: SharedEventSource) -> impl IntoView {
    let state = source.view;
    let mode = source.mode;
    let outcome: RwSignal<Option<Result<String, String>>> = RwSignal::new(None);
    let opened: RwSignal<String> = RwSignal::new(String::new());
    let inject = move |online: bool| {
        let id = input_value(DEVICE_ID);
        if let Err(problem) = validate_device_id(&id) {
            outcome.set(Some(Err(problem)));
            return;
        }
        let verb = if online { "online" } else { "offline" };
        post_inject(id, verb, outcome);
    };
    // One listener for the panel's buttons (`data-action`), one for the form: the panel's markup
    // is a string (see `markup`).
    let on_click = move |ev: leptos::ev::MouseEvent| match action_of(&ev) {
        Some(Action::StepDown) => source.step_down(),
        Some(Action::InjectOffline) => inject(false),
        Some(Action::OpenNaive) => opened.set(open_naive_tabs(NAIVE_TABS)),
        None => {}
    };
    let can_step_down = Signal::derive(move || {
        state.mode.get().unwrap_or(mode).elects_leader() && state.role.get() == Role::Leader
    });
    keep_enabled(STEP_DOWN_ID, can_step_down);
    keep_html(
        OUTCOME_ID,
        Signal::derive(move || outcome.with(|o| outcome_html(o.as_ref()))),
    );
    keep_html(
        OPENED_ID,
        Signal::derive(move || {
            let mut out = String::new();
            opened.with(|text| escape_into(&mut out, text));
            out
        }),
    );
    view! {
        <section
            class="panel controls"
            aria-labelledby="controls-title"
            on:click=on_click
            on:submit=move |ev| {
                ev.prevent_default();
                inject(true);
            }
            inner_html=controls_html(mode)
        ></section>
    }
}

const STEP_DOWN_ID: &str = "step-down";
const DEVICE_ID: &str = "inject-device";
const OUTCOME_ID: &str = "inject-outcome";
const OPENED_ID: &str = "naive-opened";

/// What a button of the panel does (its `data-action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    StepDown,
    InjectOffline,
    OpenNaive,
}

impl Action {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "step-down" => Some(Self::StepDown),
            "inject-offline" => Some(Self::InjectOffline),
            "open-naive" => Some(Self::OpenNaive),
            _ => None,
        }
    }
}

/// The action of the button a click landed in, if any (a disabled button gets no clicks).
fn action_of(ev: &leptos::ev::MouseEvent) -> Option<Action> {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let target = ev.target()?.dyn_into::<web_sys::Element>().ok()?;
        let button = target.closest("[data-action]").ok()??;
        Action::parse(&button.get_attribute("data-action")?)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (ev, Action::parse);
        None
    }
}

/// The value of the `<input>` with this id (empty if there is none).
fn input_value(id: &str) -> String {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        document()
            .get_element_by_id(id)
            .and_then(|input| input.dyn_into::<web_sys::HtmlInputElement>().ok())
            .map(|input| input.value())
            .unwrap_or_default()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = id;
        String::new()
    }
}

/// The panel, as the server renders it: "Step down" starts disabled (no tab leads before the
/// page runs), the outcome and the naive tabs' caption start empty.
fn controls_html(mode: Mode) -> String {
    let mut out = String::from(
        r#"<h2 id="controls-title">Controls</h2><p class="control-row"><a class="button" href=""#,
    );
    out.push_str(&mode_href(mode));
    out.push_str(concat!(
        r#"" target="_blank" rel="noopener">Open another tab</a>"#,
        r#"<button type="button" id="step-down" data-action="step-down" disabled title="Hand leadership to another tab">Step down</button></p>"#,
        r#"<form class="inject"><label for="inject-device">Device id</label>"#,
        r#"<input id="inject-device" name="device" maxlength="64" autocomplete="off" value="lamp-1">"#,
        r#"<button type="submit">Inject online</button>"#,
        r#"<button type="button" data-action="inject-offline">Inject offline</button></form>"#,
        r#"<p class="inject-outcome" role="status" id="inject-outcome"></p>"#,
        r#"<nav class="modes" aria-label="Modes"><h3>Modes</h3><ul>"#,
    ));
    out.push_str(&mode_links_html(mode));
    out.push_str(concat!(
        r#"</ul><p class="control-row"><button type="button" id="open-naive-tabs" data-action="open-naive" "#,
        r#"title="Each naive tab opens its own connection: the 7th and 8th hang">Open 7 naive tabs</button>"#,
        r#"<span class="caption" role="status" id="naive-opened"></span></p></nav>"#,
    ));
    out
}

/// The page in `mode` (the default mode keeps the plain URL).
fn mode_href(mode: Mode) -> String {
    match mode {
        Mode::Leader => "/".to_string(),
        mode => format!("/?mode={}", mode.as_str()),
    }
}

/// What the last injection came to: nothing yet, a confirmation, or the problem. The text may
/// quote the server: escaped.
fn outcome_html(outcome: Option<&Result<String, String>>) -> String {
    let (class, text) = match outcome {
        None => return String::new(),
        Some(Ok(text)) => ("ok", text),
        Some(Err(text)) => ("warning", text),
    };
    let mut out = format!(r#"<span class="{class}">"#);
    escape_into(&mut out, text);
    out.push_str("</span>");
    out
}

/// The same app in each mode, to compare them side by side: each a link to the page in that
/// mode with what it does; `current` is marked.
fn mode_links_html(current: Mode) -> String {
    let mut out = String::new();
    for mode in Mode::ALL {
        out.push_str("<li><a href=\"");
        out.push_str(&mode_href(mode));
        out.push_str("\" data-mode=\"");
        out.push_str(mode.as_str());
        out.push('"');
        if mode == current {
            out.push_str(r#" aria-current="page""#);
        }
        out.push('>');
        out.push_str(mode.as_str());
        out.push_str(r#"</a> <span class="caption">"#);
        out.push_str(mode.describe());
        out.push_str("</span></li>");
    }
    out
}

/// With this tab's own stream, 7 more make 8: two over the browser's 6 per host.
const NAIVE_TABS: usize = 7;

/// Opens `count` naive tabs; says how many the popup blocker let through.
#[cfg(feature = "hydrate")]
fn open_naive_tabs(count: usize) -> String {
    let Some(window) = web_sys::window() else {
        return String::new();
    };
    let url = mode_href(Mode::Naive);
    let opened = (0..count)
        .filter(|_| matches!(window.open_with_url_and_target(&url, "_blank"), Ok(Some(_))))
        .count();
    if opened == count {
        format!("Opened {opened} naive tabs: watch the server's count stop at 6.")
    } else {
        format!("The browser opened {opened} of {count}: allow pop-ups for this site to see all.")
    }
}

#[cfg(not(feature = "hydrate"))]
fn open_naive_tabs(_count: usize) -> String {
    String::new()
}

/// POSTs to the inject API and reports the outcome; a denial says that admin rights are needed.
#[cfg(feature = "hydrate")]
fn post_inject(id: String, verb: &'static str, outcome: RwSignal<Option<Result<String, String>>>) {
    use crate::model::ApiError;
    leptos::task::spawn_local(async move {
        let url = format!("/api/devices/{id}/{verb}");
        let result = match tabrelay::runtime::http::send("POST", &url, &[]).await {
            Ok(reply) if reply.ok() => Ok(format!("Injected: {id} is {verb}.")),
            Ok(reply) => {
                let reason =
                    wire::json::from_str::<ApiError>(&reply.body).map_or(reply.body, |e| e.error);
                Err(match reply.status {
                    401 | 403 => {
                        format!("Denied: injecting needs the server's admin rights ({reason}).")
                    }
                    status => format!("Rejected ({status}): {reason}"),
                })
            }
            Err(problem) => Err(problem),
        };
        outcome.set(Some(result));
    });
}

#[cfg(not(feature = "hydrate"))]
fn post_inject(
    _id: String,
    _verb: &'static str,
    _outcome: RwSignal<Option<Result<String, String>>>,
) {
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mode_links_mark_the_current_mode() {
        let html = mode_links_html(Mode::Naive);
        assert_eq!(html.matches("<li>").count(), Mode::ALL.len());
        assert!(
            html.starts_with(
                r#"<li><a href="/" data-mode="leader">leader</a> <span class="caption">"#
            ),
            "{html}"
        );
        assert!(
            html.contains(
                r#"<a href="/?mode=naive" data-mode="naive" aria-current="page">naive</a>"#
            ),
            "{html}"
        );
        assert_eq!(html.matches("aria-current").count(), 1);
    }

    #[test]
    fn the_panel_starts_with_step_down_disabled_and_every_action_known() {
        let html = controls_html(Mode::Storage);
        assert!(
            html.contains(r#"<a class="button" href="/?mode=storage" target="_blank""#),
            "{html}"
        );
        assert!(
            html.contains(r#"id="step-down" data-action="step-down" disabled "#),
            "{html}"
        );
        for action in html.split("data-action=\"").skip(1) {
            let name = &action[..action.find('"').unwrap()];
            assert!(Action::parse(name).is_some(), "{name}");
        }
        assert_eq!(html.matches("data-action=").count(), 3);
        assert_eq!(Action::parse("nonsense"), None);
    }

    #[test]
    fn an_outcome_is_escaped() {
        assert_eq!(outcome_html(None), "");
        assert_eq!(
            outcome_html(Some(&Err("Rejected (400): bad <id>".into()))),
            r#"<span class="warning">Rejected (400): bad &lt;id&gt;</span>"#
        );
        assert_eq!(
            outcome_html(Some(&Ok("Injected: a is online.".into()))),
            r#"<span class="ok">Injected: a is online.</span>"#
        );
    }
}
