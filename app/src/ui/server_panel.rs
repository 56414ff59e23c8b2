//! "Server": the open connection count (large, live), its sparkline, and the stream state. Drawn
//! as HTML strings (see `markup`).

use super::format::{countdown, decimal, escape_into};
use super::frame::Paced;
use super::markup::{keep_html, keep_text};
use super::timeline::{last_failover, Timeline};
use crate::data::{DashboardData, HISTORY_WINDOW_MS};
use crate::model::Stats;
use coord::StreamState;
use leptos::prelude::*;
use std::collections::VecDeque;
use tabrelay::{stream_word, TabView};

const SPARK_W: f64 = 240.0;
const SPARK_H: f64 = 40.0;
const COUNT_ID: &str = "open-connections";
const LIVE_ID: &str = "server-live";
const TOTALS_ID: &str = "server-totals";
const FAILOVER_ID: &str = "server-failover";

#[component]
pub fn ServerPanel(
    view: TabView,
    state: DashboardData,
    stats: Signal<Option<Stats>>,
    timeline: Timeline,
    now: ReadSignal<f64>,
) -> impl IntoView {
    let count = Signal::derive(move || {
        stats
            .get()
            .map_or_else(|| "–".to_string(), |s| s.open_connections.to_string())
    });
    // `stats` is pushed when the connection count changes, not on every event: the events this
    // tab received since the last `stats` are added to its total (each is a distinct event).
    let received = Paced::new(state.events_received);
    let live = Signal::derive(move || {
        let now = now.get();
        let mut out = String::with_capacity(1024);
        state
            .connection_history
            .with(|history| sparkline_html(&mut out, history, now));
        let retry = match (view.stream.get(), view.next_attempt_ms.get()) {
            (StreamState::Backoff, Some(due)) => Some(countdown(now, due)),
            _ => None,
        };
        stream_html(&mut out, stream_word(view.stream.get()), retry.as_deref());
        out
    });
    // Apart from the rest: it changes with every event (once per frame), the rest with the clock.
    let totals = Signal::derive(move || {
        let since = received.get().saturating_sub(state.events_at_stats.get());
        stats.get().map_or_else(String::new, |s| {
            format!(
                "{} accepted since start · {} events published",
                s.total_connections,
                s.events_published + since
            )
        })
    });
    let failover = Signal::derive(move || {
        let mut out = String::new();
        if let Some(line) = timeline.with(|rows| last_failover(rows)) {
            out.push_str(r#"<p class="caption" data-testid="last-failover">"#);
            escape_into(&mut out, &line);
            out.push_str("</p>");
        }
        out
    });
    keep_text(COUNT_ID, count);
    keep_text(TOTALS_ID, totals);
    keep_html(FAILOVER_ID, failover);
    keep_html(LIVE_ID, live);
    view! {
        <section class="panel server" aria-labelledby="server-title">
            <h2 id="server-title">"Server"</h2>
            <p class="big-number" id=COUNT_ID aria-live="polite">{count.get_untracked()}</p>
            <p class="caption">"open SSE connections, pushed live by the server"</p>
            <div id=LIVE_ID inner_html=live.get_untracked()></div>
            <p class="caption" id=TOTALS_ID>{totals.get_untracked()}</p>
            <div id=FAILOVER_ID inner_html=failover.get_untracked()></div>
        </section>
    }
}

/// "Leader's stream: open", with the countdown to the next attempt while reconnecting.
fn stream_html(out: &mut String, stream: &str, retry: Option<&str>) {
    out.push_str(r#"<p>Leader's stream: <span class="stream-state" data-stream=""#);
    out.push_str(stream);
    out.push_str("\">");
    out.push_str(stream);
    out.push_str("</span>");
    if let Some(retry) = retry {
        out.push_str(r#"<span class="caption"> · next try "#);
        out.push_str(retry);
        out.push_str("</span>");
    }
    out.push_str("</p>");
}

/// The connection count over the last five minutes, as a step line, with what it shows in words
/// for screen readers (and tests).
fn sparkline_html(out: &mut String, history: &VecDeque<(f64, u64)>, now: f64) {
    let counts = history.iter().map(|(_, n)| *n);
    let label = match (counts.clone().min(), counts.max(), history.back()) {
        (Some(low), Some(high), Some((_, now))) => format!(
            "open connections over the last five minutes: lowest {low}, highest {high}, now {now}"
        ),
        _ => "open connections over the last five minutes: none recorded yet".to_string(),
    };
    let max = history.iter().map(|(_, n)| *n).max().unwrap_or(1).max(1) as f64;
    let x = |t: f64| {
        decimal(
            ((t - (now - HISTORY_WINDOW_MS)) / HISTORY_WINDOW_MS * SPARK_W).clamp(0.0, SPARK_W),
            1,
        )
    };
    let y = |n: u64| decimal(SPARK_H - 2.0 - (n as f64 / max) * (SPARK_H - 4.0), 1);
    out.push_str(&format!(
        r#"<svg class="sparkline" viewBox="0 0 {} {}" preserveAspectRatio="none" role="img" aria-label="{label}"><polyline points=""#,
        decimal(SPARK_W, 0),
        decimal(SPARK_H, 0)
    ));
    let mut last: Option<u64> = None;
    for (t, n) in history {
        if let Some(prev) = last {
            out.push_str(&format!("{},{} ", x(*t), y(prev)));
        }
        out.push_str(&format!("{},{} ", x(*t), y(*n)));
        last = Some(*n);
    }
    if let Some(n) = last {
        out.push_str(&format!("{},{}", decimal(SPARK_W, 1), y(n)));
    }
    out.push_str(r#"" fill="none" stroke="currentColor" stroke-width="2"></polyline></svg>"#);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sparkline_is_a_step_line_with_its_figures_in_words() {
        let now = 1_000_000.0;
        let history = VecDeque::from([
            (now - HISTORY_WINDOW_MS, 1),
            (now - HISTORY_WINDOW_MS / 2.0, 3),
        ]);
        let mut html = String::new();
        sparkline_html(&mut html, &history, now);
        assert!(html.starts_with(r#"<svg class="sparkline" viewBox="0 0 240 40" preserveAspectRatio="none" role="img" aria-label="open connections over the last five minutes: lowest 1, highest 3, now 3"><polyline points=""#), "{html}");
        assert!(
            html.contains(r#"points="0.0,26.0 120.0,26.0 120.0,2.0 240.0,2.0" fill="none""#),
            "{html}"
        );
        let mut empty = String::new();
        sparkline_html(&mut empty, &VecDeque::new(), now);
        assert!(empty.contains("none recorded yet"), "{empty}");
        assert!(empty.contains(r#"points="" fill"#), "{empty}");
    }

    #[test]
    fn the_stream_line_names_the_state_and_the_next_try() {
        let mut html = String::new();
        stream_html(&mut html, "reconnecting", Some("in 1.5 s"));
        assert_eq!(
            html,
            r#"<p>Leader's stream: <span class="stream-state" data-stream="reconnecting">reconnecting</span><span class="caption"> · next try in 1.5 s</span></p>"#
        );
    }
}
