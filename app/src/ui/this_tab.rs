//! "This tab": role badge, ids, term, election mechanism, and the pulse of the leader's heartbeat.

use super::format::age;
use super::frame::Paced;
use coord::Role;
use leptos::prelude::*;
use tabrelay::{role_word, Mode, TabView};

/// A heartbeat older than this is shown as late (the core probes the leader after 500 ms).
const LATE_HEARTBEAT_MS: f64 = 750.0;

#[component]
pub fn ThisTab(state: TabView, mode: Mode, now: ReadSignal<f64>) -> impl IntoView {
    // Who leads, once a change of leader settled (see `frame`): not while the tabs elect. One
    // tick for the three.
    let settled = super::frame::settle(Box::new(move || {
        state.role.track();
        state.leader_id.track();
        state.term.track();
    }));
    let role_now = move || {
        settled.track();
        state.role.get_untracked()
    };
    // The page's `?mode=`, until the runtime says which mode this browser can run.
    let running = move || state.mode.get().unwrap_or(mode);
    let role = move || role_word(role_now());
    let role_label = move || match (running(), role_now()) {
        (Mode::Naive | Mode::Sharded, _) => "Naive: this tab holds a connection of its own",
        (Mode::HiddenClose, _) => "Naive: this tab holds a connection of its own while visible",
        (Mode::SharedWorker, _) => "Follower: events arrive from the shared worker",
        (_, Role::Leader) => "Leader: this tab holds the connection",
        (_, Role::Follower) => "Follower: events arrive from the leader tab",
        (_, Role::Electing) => "Electing: looking for a leader",
    };
    let leader = move || match (role_now(), state.leader_id.get_untracked()) {
        (Role::Leader, _) => "this tab".to_string(),
        (_, Some(id)) => id,
        (_, None) => "unknown".to_string(),
    };
    let mechanism = move || match (running(), state.mechanism.get()) {
        (Mode::Naive | Mode::Sharded | Mode::HiddenClose, _) => {
            "none: every tab has its own connection"
        }
        (Mode::SharedWorker, _) => "none: the shared worker holds the connection",
        (_, Some("locks")) => "Web Locks",
        (Mode::Storage, Some("protocol")) => "election protocol over storage events",
        (_, Some("protocol")) => "BroadcastChannel protocol",
        _ => "starting…",
    };
    // The HTTP version the page was loaded over (`nextHopProtocol`: `h2`, `http/1.1`), known
    // after hydration only.
    let protocol = RwSignal::new(String::from("…"));
    Effect::new(move |_| protocol.set(page_protocol()));
    view! {
        <section class="panel this-tab" aria-labelledby="this-tab-title">
            <h2 id="this-tab-title">"This tab"</h2>
            <p class="role-line">
                <span class="role-badge" data-role=role title=role_label>{role}</span>
                <span class="caption">{role_label}</span>
            </p>
            <dl>
                <dt>"Tab id"</dt>
                <dd class="mono one-line" title=move || state.tab_id.get()>{move || state.tab_id.get()}</dd>
                <dt>"Leader"</dt>
                <dd class="mono one-line" id="leader-id" title=leader>{leader}</dd>
                <dt>"Term"</dt>
                <dd class="mono">{move || { settled.track(); state.term.get_untracked() }}</dd>
                <dt>"Mode"</dt>
                <dd>
                    <span class="mono" id="mode">{move || running().as_str()}</span>
                    ": "
                    {move || running().describe()}
                    <Show when=move || running() != mode>
                        <span class="warning" id="mode-fallback">
                            " (" {mode.as_str()} " needs what this browser lacks)"
                        </span>
                    </Show>
                </dd>
                <dt>"Election"</dt>
                <dd>{mechanism}</dd>
                <dt>"Protocol"</dt>
                <dd class="mono" id="http-protocol" title="how this page reached the server (h2: every stream of the host shares one connection)">
                    {protocol}
                </dd>
            </dl>
            <Heartbeat state now/>
        </section>
    }
}

#[component]
fn Heartbeat(state: TabView, now: ReadSignal<f64>) -> impl IntoView {
    let heartbeat_at_ms = Paced::new(state.heartbeat_at_ms);
    let age_ms = move || heartbeat_at_ms.get().map(|at| now.get() - at);
    let late = move || age_ms().is_some_and(|ms| ms > LATE_HEARTBEAT_MS);
    let text = move || match heartbeat_at_ms.get() {
        Some(at) => age(now.get(), at),
        None => "none yet".to_string(),
    };
    view! {
        <div class="heartbeat" class:late=late>
            // Re-keyed on every beat so the CSS animation restarts: one pulse per heartbeat.
            {move || {
                let beat = heartbeat_at_ms.get();
                view! { <span class="pulse" aria-hidden="true" data-beat=beat.map(|b| super::format::decimal(b, 0))></span> }
            }}
            <span>"Heartbeat "</span>
            <span class="mono one-line">{text}</span>
            <Show when=late>
                <span class="warning">" late"</span>
            </Show>
        </div>
    }
}

/// `performance.getEntriesByType("navigation")[0].nextHopProtocol`, or `?` where unknown.
fn page_protocol() -> String {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let entry = web_sys::window()
            .and_then(|w| w.performance())
            .map(|p| p.get_entries_by_type("navigation"))
            .map(|entries| entries.get(0))
            .and_then(|entry| {
                entry
                    .dyn_into::<web_sys::PerformanceNavigationTiming>()
                    .ok()
            });
        if let Some(protocol) = entry
            .map(|e| e.next_hop_protocol())
            .filter(|p| !p.is_empty())
        {
            return protocol;
        }
    }
    "?".to_owned()
}
