//! "Leadership timeline": every change of leader this tab has seen, newest first, with its cause
//! and figures as the coordination core learnt them from its own evidence (the old leader's
//! `Resign`, the probe that went unanswered, the `reset` of a new run; see `coord`'s
//! `tab/timeline.rs`). Also the one-line "last failover" summary of the Server panel.

use super::format::clock_time;
use leptos::prelude::*;
use tabrelay::{LeaderChangeRow, TabView};

/// How the timeline words and figures a change of leader.
trait Described {
    fn what(&self) -> &'static str;
    fn figures(&self) -> String;
}

impl Described for LeaderChangeRow {
    fn what(&self) -> &'static str {
        match self.cause {
            "closed" => "leader closed",
            "crashed" => "leader crashed",
            "frozen" => "leader frozen",
            "step-down" => "leader stepped down",
            "server-restart" => "server restarted",
            "lost-lock" => "this tab lost its lock",
            other => other,
        }
    }

    /// "12 ms without a leader · stream back after 80 ms · 3 events replayed".
    fn figures(&self) -> String {
        let ms = |d: Option<f64>| {
            d.map_or_else(
                || "…".to_string(),
                |d| format!("{} ms", super::format::decimal(d, 0)),
            )
        };
        format!(
            "{} without a leader · stream back after {} · {} replayed",
            ms(self.leaderless_ms),
            ms(self.until_delivering_ms),
            match self.replayed {
                1 => "1 event".to_string(),
                n => format!("{n} events"),
            }
        )
    }
}

fn short(id: &Option<String>) -> String {
    id.as_deref().map_or_else(
        || "?".to_string(),
        |id| id[id.len().saturating_sub(6)..].to_string(),
    )
}

#[component]
pub fn LeadershipTimeline(state: TabView) -> impl IntoView {
    let rows = move || {
        state.timeline.with(|rows| {
            rows.iter()
                .map(|row| {
                    let opt = |v: Option<f64>| v.map(|v| super::format::decimal(v, 1));
                    view! {
                        <li
                            data-testid="timeline-entry"
                            data-cause=row.cause
                            data-from=row.from.clone()
                            data-to=row.to.clone()
                            data-leaderless-ms=opt(row.leaderless_ms)
                            data-until-delivering-ms=opt(row.until_delivering_ms)
                            data-replayed=row.replayed.to_string()
                        >
                            <span class="timeline-time">{clock_time(row.at_ms)}</span>
                            " "
                            <strong class="timeline-cause">{row.what()}</strong>
                            " "
                            <span class="timeline-tabs" title=format!("{} → {}", row.from.clone().unwrap_or_default(), row.to.clone().unwrap_or_default())>
                                {format!("{} → {}", short(&row.from), short(&row.to))}
                            </span>
                            <br/>
                            <span class="caption">{row.figures()}</span>
                        </li>
                    }
                })
                .collect_view()
        })
    };
    view! {
        <section class="panel panel-timeline" aria-labelledby="timeline-title" data-testid="timeline">
            <h2 id="timeline-title">"Leadership timeline"</h2>
            <Show when=move || state.timeline.with(Vec::is_empty)>
                <p class="caption" data-testid="timeline-empty">
                    "No change of leader seen by this tab yet."
                </p>
            </Show>
            <ol class="timeline" reversed>{rows}</ol>
        </section>
    }
}

/// The Server panel's "last failover" line (nothing before the first change).
#[component]
pub fn LastFailover(state: TabView) -> impl IntoView {
    let line = move || {
        state.timeline.with(|rows| {
            rows.first()
                .map(|row| format!("Last failover: {}, {}", row.what(), row.figures()))
        })
    };
    view! {
        {move || line().map(|line| view! { <p class="caption" data-testid="last-failover">{line}</p> })}
    }
}
