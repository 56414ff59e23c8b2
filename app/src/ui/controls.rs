//! "Controls": open another tab, hand leadership away, inject a device event.

use crate::model::validate_device_id;
use coord::Role;
use leptos::either::Either;
use leptos::prelude::*;
use tabrelay::{Mode, SharedEventSource};

#[component]
pub fn Controls(source: SharedEventSource) -> impl IntoView {
    let state = source.view;
    let mode = source.mode;
    let device = RwSignal::new("lamp-1".to_string());
    let outcome: RwSignal<Option<Result<String, String>>> = RwSignal::new(None);
    let inject = move |online: bool| {
        let id = device.get_untracked();
        if let Err(problem) = validate_device_id(&id) {
            outcome.set(Some(Err(problem)));
            return;
        }
        let verb = if online { "online" } else { "offline" };
        post_inject(id, verb, outcome);
    };
    view! {
        <section class="panel controls" aria-labelledby="controls-title">
            <h2 id="controls-title">"Controls"</h2>
            <p class="control-row">
                <a class="button" href=mode_href(mode) target="_blank" rel="noopener">
                    "Open another tab"
                </a>
                <button
                    type="button"
                    on:click=move |_| source.step_down()
                    disabled=move || {
                        !state.mode.get().unwrap_or(mode).elects_leader()
                            || state.role.get() != Role::Leader
                    }
                    title="Hand leadership to another tab"
                >
                    "Step down"
                </button>
            </p>
            <form class="inject" on:submit=move |ev| { ev.prevent_default(); inject(true); }>
                <label for="inject-device">"Device id"</label>
                <input
                    id="inject-device"
                    name="device"
                    maxlength="64"
                    autocomplete="off"
                    prop:value=move || device.get()
                    on:input=move |ev| device.set(event_target_value(&ev))
                />
                <button type="submit">"Inject online"</button>
                <button type="button" on:click=move |_| inject(false)>"Inject offline"</button>
            </form>
            <p class="inject-outcome" role="status">
                {move || outcome.get().map(|outcome| match outcome {
                    Ok(text) => Either::Left(view! { <span class="ok">{text}</span> }),
                    Err(text) => Either::Right(view! { <span class="warning">{text}</span> }),
                })}
            </p>
            <ModeLinks current=mode/>
        </section>
    }
}

/// The page in `mode` (the default mode keeps the plain URL).
fn mode_href(mode: Mode) -> String {
    match mode {
        Mode::Leader => "/".to_string(),
        mode => format!("/?mode={}", mode.as_str()),
    }
}

/// The same app in each mode, to compare them side by side; and the naive failure, on demand.
#[component]
fn ModeLinks(current: Mode) -> impl IntoView {
    let opened: RwSignal<Option<String>> = RwSignal::new(None);
    view! {
        <nav class="modes" aria-label="Modes">
            <h3>"Modes"</h3>
            <ul>
                {Mode::ALL
                    .into_iter()
                    .map(|mode| {
                        view! {
                            <li>
                                <a
                                    href=mode_href(mode)
                                    data-mode=mode.as_str()
                                    aria-current=(mode == current).then_some("page")
                                >
                                    {mode.as_str()}
                                </a>
                                " "
                                <span class="caption">{mode.describe()}</span>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
            <p class="control-row">
                <button
                    type="button"
                    id="open-naive-tabs"
                    on:click=move |_| opened.set(Some(open_naive_tabs(NAIVE_TABS)))
                    title="Each naive tab opens its own connection: the 7th and 8th hang"
                >
                    "Open 7 naive tabs"
                </button>
                <span class="caption" role="status">{move || opened.get()}</span>
            </p>
        </nav>
    }
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
