//! The dashboard page: this tab's role, the leader, the server's connection count and the events
//! this tab received.

use crate::state::{ReceivedEvent, Role, TabState};
use leptos::prelude::*;

#[component]
pub fn Dashboard() -> impl IntoView {
    let state = TabState::new();
    #[cfg(feature = "hydrate")]
    // Runs once after hydration; `untrack` keeps the runtime's own reads from re-running it.
    Effect::new(move |_| untrack(|| crate::runtime::start(state)));

    view! {
        <header class="topbar">
            <h1>"tabrelay"</h1>
            <p class="tagline">"Every tab of this site shares one server connection."</p>
        </header>
        <main class="dashboard">
            <ThisTab state/>
            <ServerPanel state/>
            <EventLog state/>
        </main>
    }
}

#[component]
fn ThisTab(state: TabState) -> impl IntoView {
    let role = move || state.role.get().as_str();
    let leader = move || match (state.role.get(), state.leader_id.get()) {
        (Role::Leader, _) => "this tab".to_string(),
        (_, Some(id)) => id,
        (_, None) => "unknown".to_string(),
    };
    view! {
        <section class="panel this-tab" aria-labelledby="this-tab-title">
            <h2 id="this-tab-title">"This tab"</h2>
            <p>
                <span class="role-badge" data-role=role>{role}</span>
            </p>
            <dl>
                <dt>"Tab id"</dt>
                <dd class="mono">{move || state.tab_id.get()}</dd>
                <dt>"Leader"</dt>
                <dd class="mono" id="leader-id">{leader}</dd>
            </dl>
        </section>
    }
}

#[component]
fn ServerPanel(state: TabState) -> impl IntoView {
    let count = move || {
        state
            .open_connections
            .get()
            .map_or_else(|| "–".to_string(), |n| n.to_string())
    };
    view! {
        <section class="panel server" aria-labelledby="server-title">
            <h2 id="server-title">"Server"</h2>
            <p class="big-number" id="open-connections">{count}</p>
            <p class="caption">"open SSE connections, pushed live by the server"</p>
        </section>
    }
}

#[component]
fn EventLog(state: TabState) -> impl IntoView {
    view! {
        <section class="panel events" aria-labelledby="events-title">
            <h2 id="events-title">
                "Events " <span class="caption">{move || state.events_received.get()} " received"</span>
            </h2>
            <ol class="event-log" aria-live="polite" aria-relevant="additions">
                <For
                    each=move || state.events.get()
                    key=|received| received.event.id
                    children=|received: ReceivedEvent| {
                        let ReceivedEvent { event, relayed } = received;
                        let kind = event.kind.event_name();
                        view! {
                            <li data-event-id=event.id.to_string() data-kind=kind>
                                <span class="mono">"#" {event.id}</span>
                                " " <span class="kind">{kind}</span>
                                " " <span class="device">{event.device}</span>
                                " " <span class="via">{if relayed { "relayed" } else { "direct" }}</span>
                            </li>
                        }
                    }
                />
            </ol>
        </section>
    }
}
