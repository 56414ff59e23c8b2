//! "Server": the open connection count (large, live), its sparkline, and the stream state.

use super::format::{countdown, decimal};
use super::frame::Paced;
use crate::data::{DashboardData, HISTORY_WINDOW_MS};
use crate::model::Stats;
use coord::StreamState;
use leptos::prelude::*;
use tabrelay::{stream_word, TabView};

const SPARK_W: f64 = 240.0;
const SPARK_H: f64 = 40.0;

#[component]
pub fn ServerPanel(
    view: TabView,
    state: DashboardData,
    stats: Signal<Option<Stats>>,
    timeline: super::timeline::Timeline,
    now: ReadSignal<f64>,
) -> impl IntoView {
    let count = move || {
        stats
            .get()
            .map_or_else(|| "–".to_string(), |s| s.open_connections.to_string())
    };
    let stream = move || stream_word(view.stream.get());
    let retry = move || match (view.stream.get(), view.next_attempt_ms.get()) {
        (StreamState::Backoff, Some(due)) => {
            Some(format!("next try {}", countdown(now.get(), due)))
        }
        _ => None,
    };
    // `stats` is pushed when the connection count changes, not on every event: the events this
    // tab received since the last `stats` are added to its total (each is a distinct event).
    let received = Paced::new(state.events_received);
    let totals = move || {
        let since = received.get().saturating_sub(state.events_at_stats.get());
        stats.get().map(|s| {
            format!(
                "{} accepted since start · {} events published",
                s.total_connections,
                s.events_published + since
            )
        })
    };
    view! {
        <section class="panel server" aria-labelledby="server-title">
            <h2 id="server-title">"Server"</h2>
            <p class="big-number" id="open-connections" aria-live="polite">{count}</p>
            <p class="caption">"open SSE connections, pushed live by the server"</p>
            <Sparkline state now/>
            <p>
                "Leader's stream: " <span class="stream-state" data-stream=stream>{stream}</span>
                {move || retry().map(|r| view! { <span class="caption">" · " {r}</span> })}
            </p>
            <p class="caption" id="server-totals">{totals}</p>
            <super::timeline::LastFailover timeline/>
        </section>
    }
}

/// The connection count over the last five minutes, as a step line.
#[component]
fn Sparkline(state: DashboardData, now: ReadSignal<f64>) -> impl IntoView {
    let points = move || {
        let now = now.get();
        state.connection_history.with(|history| {
            let max = history.iter().map(|(_, n)| *n).max().unwrap_or(1).max(1) as f64;
            let x = |t: f64| {
                ((t - (now - HISTORY_WINDOW_MS)) / HISTORY_WINDOW_MS * SPARK_W).clamp(0.0, SPARK_W)
            };
            let y = |n: u64| SPARK_H - 2.0 - (n as f64 / max) * (SPARK_H - 4.0);
            let mut out = String::new();
            let mut last: Option<u64> = None;
            for (t, n) in history.iter() {
                if let Some(prev) = last {
                    out.push_str(&format!("{},{} ", decimal(x(*t), 1), decimal(y(prev), 1)));
                }
                out.push_str(&format!("{},{} ", decimal(x(*t), 1), decimal(y(*n), 1)));
                last = Some(*n);
            }
            if let Some(n) = last {
                out.push_str(&format!("{},{}", decimal(SPARK_W, 1), decimal(y(n), 1)));
            }
            out
        })
    };
    // What the line shows, in words, for screen readers (and tests).
    let label = move || {
        state.connection_history.with(|history| {
            let counts = history.iter().map(|(_, n)| *n);
            match (counts.clone().min(), counts.max(), history.back()) {
                (Some(low), Some(high), Some((_, now))) => format!(
                    "open connections over the last five minutes: lowest {low}, highest {high}, now {now}"
                ),
                _ => "open connections over the last five minutes: none recorded yet".to_string(),
            }
        })
    };
    view! {
        <svg
            class="sparkline"
            viewBox=format!("0 0 {} {}", decimal(SPARK_W, 0), decimal(SPARK_H, 0))
            preserveAspectRatio="none"
            role="img"
            aria-label=label
        >
            <polyline points=points fill="none" stroke="currentColor" stroke-width="2"></polyline>
        </svg>
    }
}
