//! "This tab": role badge, ids, term, election mechanism, and the pulse of the leader's heartbeat.

use super::format::{age, escape_into};
use super::frame::Paced;
use super::markup::{keep_attribute, keep_html};
use coord::Role;
use leptos::prelude::*;
use tabrelay::{role_word, Mode, TabView};

/// A heartbeat older than this is shown as late (the core probes the leader after 500 ms).
const LATE_HEARTBEAT_MS: f64 = 750.0;

const LIVE_ID: &str = "this-tab-live";

/// What the panel shows, read from the tab's state.
struct Shown<'a> {
    role: Role,
    /// The mode the page asked for (`?mode=`) and the one running.
    asked: Mode,
    running: Mode,
    tab_id: &'a str,
    leader_id: Option<&'a str>,
    term: u64,
    mechanism: Option<&'static str>,
    protocol: &'a str,
}

#[component]
pub fn ThisTab(state: TabView, mode: Mode, now: ReadSignal<f64>) -> impl IntoView {
    // Who leads, once a change of leader settled (see `frame`): not while the tabs elect. One
    // tick for the three.
    let settled = super::frame::settle(Box::new(move || {
        state.role.track();
        state.leader_id.track();
        state.term.track();
    }));
    // The HTTP version the page was loaded over (`nextHopProtocol`: `h2`, `http/1.1`), known
    // after hydration only.
    let protocol = RwSignal::new(String::from("…"));
    Effect::new(move |_| protocol.set(page_protocol()));
    let live = Signal::derive(move || {
        settled.track();
        let leader_id = state.leader_id.get_untracked();
        let tab_id = state.tab_id.get();
        let protocol = protocol.get();
        shown_html(&Shown {
            role: state.role.get_untracked(),
            asked: mode,
            // The page's `?mode=`, until the runtime says which mode this browser can run.
            running: state.mode.get().unwrap_or(mode),
            tab_id: &tab_id,
            leader_id: leader_id.as_deref(),
            term: state.term.get_untracked(),
            mechanism: state.mechanism.get(),
            protocol: &protocol,
        })
    });
    keep_html(LIVE_ID, live);
    view! {
        <section class="panel this-tab" aria-labelledby="this-tab-title">
            <h2 id="this-tab-title">"This tab"</h2>
            <div id=LIVE_ID inner_html=live.get_untracked()></div>
            <Heartbeat state now/>
        </section>
    }
}

fn role_label(running: Mode, role: Role) -> &'static str {
    match (running, role) {
        (Mode::Naive | Mode::Sharded, _) => "Naive: this tab holds a connection of its own",
        (Mode::HiddenClose, _) => "Naive: this tab holds a connection of its own while visible",
        (Mode::SharedWorker, _) => "Follower: events arrive from the shared worker",
        (_, Role::Leader) => "Leader: this tab holds the connection",
        (_, Role::Follower) => "Follower: events arrive from the leader tab",
        (_, Role::Electing) => "Electing: looking for a leader",
    }
}

fn mechanism_text(running: Mode, mechanism: Option<&str>) -> &'static str {
    match (running, mechanism) {
        (Mode::Naive | Mode::Sharded | Mode::HiddenClose, _) => {
            "none: every tab has its own connection"
        }
        (Mode::SharedWorker, _) => "none: the shared worker holds the connection",
        (_, Some("locks")) => "Web Locks",
        (Mode::Storage, Some("protocol")) => "election protocol over storage events",
        (_, Some("protocol")) => "BroadcastChannel protocol",
        _ => "starting…",
    }
}

/// The role line and the tab's facts. Ids come from other tabs: escaped, never markup.
fn shown_html(shown: &Shown) -> String {
    let mut out = String::with_capacity(1200);
    let role = role_word(shown.role);
    let label = role_label(shown.running, shown.role);
    out.push_str(r#"<p class="role-line"><span class="role-badge" data-role=""#);
    out.push_str(role);
    out.push_str(r#"" title=""#);
    out.push_str(label);
    out.push_str("\">");
    out.push_str(role);
    out.push_str(r#"</span><span class="caption">"#);
    out.push_str(label);
    out.push_str(r#"</span></p><dl><dt>Tab id</dt><dd class="mono one-line" title=""#);
    escape_into(&mut out, shown.tab_id);
    out.push_str("\">");
    escape_into(&mut out, shown.tab_id);
    let leader = match (shown.role, shown.leader_id) {
        (Role::Leader, _) => "this tab",
        (_, Some(id)) => id,
        (_, None) => "unknown",
    };
    out.push_str(r#"</dd><dt>Leader</dt><dd class="mono one-line" id="leader-id" title=""#);
    escape_into(&mut out, leader);
    out.push_str("\">");
    escape_into(&mut out, leader);
    out.push_str(r#"</dd><dt>Term</dt><dd class="mono">"#);
    out.push_str(&shown.term.to_string());
    out.push_str(r#"</dd><dt>Mode</dt><dd><span class="mono" id="mode">"#);
    out.push_str(shown.running.as_str());
    out.push_str("</span>: ");
    out.push_str(shown.running.describe());
    if shown.running != shown.asked {
        out.push_str(r#"<span class="warning" id="mode-fallback"> ("#);
        out.push_str(shown.asked.as_str());
        out.push_str(" needs what this browser lacks)</span>");
    }
    out.push_str("</dd><dt>Election</dt><dd>");
    out.push_str(mechanism_text(shown.running, shown.mechanism));
    out.push_str(r#"</dd><dt>Protocol</dt><dd class="mono" id="http-protocol" title="how this page reached the server (h2: every stream of the host shares one connection)">"#);
    escape_into(&mut out, shown.protocol);
    out.push_str("</dd></dl>");
    out
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
    // Re-written on every beat so the CSS animation restarts: one pulse per heartbeat.
    let pulse = Signal::derive(move || pulse_html(heartbeat_at_ms.get()));
    let said = Signal::derive(move || heartbeat_text_html(&text(), late()));
    keep_html(PULSE_ID, pulse);
    keep_html(TEXT_ID, said);
    keep_attribute(
        HEARTBEAT_ID,
        "class",
        Signal::derive(move || {
            Some(
                if late() {
                    "heartbeat late"
                } else {
                    "heartbeat"
                }
                .to_string(),
            )
        }),
    );
    view! {
        <div class="heartbeat" id=HEARTBEAT_ID>
            <span class="slot" id=PULSE_ID inner_html=pulse.get_untracked()></span>
            <span class="slot" id=TEXT_ID inner_html=said.get_untracked()></span>
        </div>
    }
}

const HEARTBEAT_ID: &str = "heartbeat";
const PULSE_ID: &str = "heartbeat-pulse";
const TEXT_ID: &str = "heartbeat-text";

fn pulse_html(beat_ms: Option<f64>) -> String {
    match beat_ms {
        Some(at) => format!(
            r#"<span class="pulse" aria-hidden="true" data-beat="{}"></span>"#,
            super::format::decimal(at, 0)
        ),
        None => r#"<span class="pulse" aria-hidden="true"></span>"#.to_string(),
    }
}

fn heartbeat_text_html(age: &str, late: bool) -> String {
    let mut out = String::from(r#"<span>Heartbeat </span><span class="mono one-line">"#);
    out.push_str(age);
    out.push_str("</span>");
    if late {
        out.push_str(r#"<span class="warning"> late</span>"#);
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    fn shown<'a>(role: Role, leader_id: Option<&'a str>) -> Shown<'a> {
        Shown {
            role,
            asked: Mode::Leader,
            running: Mode::Leader,
            tab_id: "t<1>",
            leader_id,
            term: 7,
            mechanism: Some("locks"),
            protocol: "h2",
        }
    }

    #[test]
    fn a_follower_names_its_leader_and_escapes_ids() {
        let html = shown_html(&shown(Role::Follower, Some("l\"1")));
        assert!(html.starts_with(r#"<p class="role-line"><span class="role-badge" data-role="follower" title="Follower: events arrive from the leader tab">follower</span>"#), "{html}");
        assert!(
            html.contains(r#"title="t&lt;1&gt;">t&lt;1&gt;</dd>"#),
            "{html}"
        );
        assert!(
            html.contains(r#"id="leader-id" title="l&quot;1">l&quot;1</dd>"#),
            "{html}"
        );
        assert!(
            html.contains(r#"<dt>Term</dt><dd class="mono">7</dd>"#),
            "{html}"
        );
        assert!(html.contains(r#"<span class="mono" id="mode">leader</span>: a leader tab relays over BroadcastChannel</dd>"#), "{html}");
        assert!(html.contains("<dd>Web Locks</dd>"), "{html}");
        assert!(
            html.contains(r#"shares one connection)">h2</dd></dl>"#),
            "{html}"
        );
        assert!(!html.contains("mode-fallback"), "{html}");
        let mut odd = shown(Role::Follower, None);
        odd.protocol = "<h3>";
        let html = shown_html(&odd);
        assert!(html.contains(r#"connection)">&lt;h3&gt;</dd>"#), "{html}");
        assert!(html.contains(r#"title="unknown">unknown</dd>"#), "{html}");
    }

    #[test]
    fn the_heartbeat_says_its_age_and_when_it_is_late() {
        assert_eq!(
            heartbeat_text_html("0.8 s ago", true),
            r#"<span>Heartbeat </span><span class="mono one-line">0.8 s ago</span><span class="warning"> late</span>"#
        );
        assert!(!heartbeat_text_html("none yet", false).contains("late"));
        assert_eq!(
            pulse_html(Some(1234.4)),
            r#"<span class="pulse" aria-hidden="true" data-beat="1234"></span>"#
        );
    }

    #[test]
    fn a_leader_is_this_tab_and_a_fallback_says_what_was_asked() {
        let mut facts = shown(Role::Leader, Some("someone-else"));
        facts.asked = Mode::SharedWorker;
        let html = shown_html(&facts);
        assert!(
            html.contains(r#"id="leader-id" title="this tab">this tab</dd>"#),
            "{html}"
        );
        assert!(html.contains(r#"<span class="warning" id="mode-fallback"> (sharedworker needs what this browser lacks)</span>"#), "{html}");
        assert_eq!(
            mechanism_text(Mode::Naive, Some("locks")),
            "none: every tab has its own connection"
        );
        assert_eq!(mechanism_text(Mode::Leader, None), "starting…");
    }
}
