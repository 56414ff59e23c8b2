//! "Controls": open another tab, hand leadership away, inject a device event.

use crate::model::validate_device_id;
use crate::shared::SharedEventSource;
use coord::Role;
use leptos::either::Either;
use leptos::prelude::*;

#[component]
pub fn Controls(source: SharedEventSource) -> impl IntoView {
    let state = source.state;
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
                <a class="button" href="/" target="_blank" rel="noopener">"Open another tab"</a>
                <button
                    type="button"
                    on:click=move |_| source.step_down()
                    disabled=move || state.role.get() != Role::Leader
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
        </section>
    }
}

/// POSTs to the inject API and reports the outcome; a denial says that admin rights are needed.
#[cfg(feature = "hydrate")]
fn post_inject(id: String, verb: &'static str, outcome: RwSignal<Option<Result<String, String>>>) {
    use crate::model::ApiError;
    leptos::task::spawn_local(async move {
        let url = format!("/api/devices/{id}/{verb}");
        let result = match crate::runtime::http::send("POST", &url, None).await {
            Ok(reply) if reply.ok() => Ok(format!("Injected: {id} is {verb}.")),
            Ok(reply) => {
                let reason =
                    serde_json::from_str::<ApiError>(&reply.body).map_or(reply.body, |e| e.error);
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
