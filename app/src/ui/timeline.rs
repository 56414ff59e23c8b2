//! "Leadership timeline": every change of leader this tab has seen, newest first, with its cause
//! and figures as the coordination core learnt them from its own evidence (the old leader's
//! `Resign`, the probe that went unanswered, the `reset` of a new run; see `coord`'s
//! `tab/timeline.rs`). Also the one-line "last failover" summary of the Server panel.

use super::format::{clock_time, decimal, escape_into};
use super::frame::Paced;
use super::markup::keep_html;
use leptos::prelude::*;
use tabrelay::LeaderChangeRow;

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
        let ms =
            |d: Option<f64>| d.map_or_else(|| "…".to_string(), |d| format!("{} ms", decimal(d, 0)));
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

/// The last 6 characters of a tab's id (ids come from other tabs: any text, cut at a character
/// boundary).
fn short(id: &Option<String>) -> String {
    id.as_deref().map_or_else(
        || "?".to_string(),
        |id| {
            let start = id.char_indices().rev().nth(5).map_or(0, |(at, _)| at);
            id[start..].to_string()
        },
    )
}

/// The timeline as its views read it: once a change of leader settled (see `frame`).
pub type Timeline = Paced<Vec<LeaderChangeRow>>;

#[component]
pub fn LeadershipTimeline(timeline: Timeline) -> impl IntoView {
    // One HTML string for the whole list: a change re-renders its few rows with one DOM call,
    // and the bundle carries no view code per row attribute (see `markup`).
    let body = Signal::derive(move || timeline.with(|rows| body_html(rows)));
    keep_html(BODY_ID, body);
    view! {
        <section class="panel panel-timeline" aria-labelledby="timeline-title" data-testid="timeline">
            <h2 id="timeline-title">"Leadership timeline"</h2>
            <div id=BODY_ID inner_html=body.get_untracked()></div>
        </section>
    }
}

const BODY_ID: &str = "timeline-body";

/// The list, or what an empty one means.
fn body_html(rows: &[LeaderChangeRow]) -> String {
    if rows.is_empty() {
        return r#"<p class="caption" data-testid="timeline-empty">No change of leader seen by this tab yet.</p>"#.to_string();
    }
    let mut out = String::from(r#"<ol class="timeline" reversed>"#);
    out.push_str(&rows_html(rows));
    out.push_str("</ol>");
    out
}

/// The timeline's rows as HTML, newest first: what a test reads in `data-*` (figures in ms, an
/// attribute left out while unknown), what a person reads in the text. Ids are escaped.
fn rows_html(rows: &[LeaderChangeRow]) -> String {
    let mut out = String::new();
    for row in rows {
        out.push_str(r#"<li data-testid="timeline-entry" data-cause=""#);
        escape_into(&mut out, row.cause);
        out.push('"');
        let figures = [
            ("from", row.from.clone()),
            ("to", row.to.clone()),
            ("leaderless-ms", row.leaderless_ms.map(|v| decimal(v, 1))),
            (
                "until-delivering-ms",
                row.until_delivering_ms.map(|v| decimal(v, 1)),
            ),
            ("replayed", Some(row.replayed.to_string())),
        ];
        for (name, value) in figures {
            if let Some(value) = value {
                out.push_str(" data-");
                out.push_str(name);
                out.push_str("=\"");
                escape_into(&mut out, &value);
                out.push('"');
            }
        }
        out.push_str(r#"><span class="timeline-time">"#);
        out.push_str(&clock_time(row.at_ms));
        out.push_str(r#"</span> <strong class="timeline-cause">"#);
        out.push_str(row.what());
        out.push_str(r#"</strong> <span class="timeline-tabs" title=""#);
        escape_into(
            &mut out,
            &format!(
                "{} → {}",
                row.from.as_deref().unwrap_or_default(),
                row.to.as_deref().unwrap_or_default()
            ),
        );
        out.push_str("\">");
        escape_into(
            &mut out,
            &format!("{} → {}", short(&row.from), short(&row.to)),
        );
        out.push_str(r#"</span><br><span class="caption">"#);
        out.push_str(&row.figures());
        out.push_str("</span></li>");
    }
    out
}

/// The Server panel's "last failover" line (`None` before the first change).
pub fn last_failover(rows: &[LeaderChangeRow]) -> Option<String> {
    rows.first()
        .map(|row| format!("Last failover: {}, {}", row.what(), row.figures()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(to: Option<&str>, until: Option<f64>) -> LeaderChangeRow {
        LeaderChangeRow {
            at_ms: 3_723_004.0,
            cause: "closed",
            from: Some("aaaaaa111111".into()),
            to: to.map(Into::into),
            leaderless_ms: Some(12.34),
            until_delivering_ms: until,
            replayed: 1,
        }
    }

    #[test]
    fn a_short_id_is_its_last_six_characters_whatever_the_text() {
        assert_eq!(short(&Some("aaaaaa111111".into())), "111111");
        assert_eq!(short(&Some("abc".into())), "abc");
        assert_eq!(
            short(&Some("tab-ééééééé".into())),
            "éééééé",
            "not cut inside a character"
        );
        assert_eq!(short(&None), "?");
    }

    #[test]
    fn a_row_carries_what_the_tests_read_and_leaves_out_what_is_unknown() {
        let html = rows_html(&[row(Some("bbbbbb<22222"), Some(80.0))]);
        assert!(html.starts_with(r#"<li data-testid="timeline-entry" data-cause="closed" data-from="aaaaaa111111" data-to="bbbbbb&lt;22222" data-leaderless-ms="12.3" data-until-delivering-ms="80.0" data-replayed="1">"#), "{html}");
        assert!(html.contains(">01:02:03.004<"), "{html}");
        assert!(html.contains(">leader closed<"), "{html}");
        assert!(html.contains(">111111 → &lt;22222<"), "{html}");
        assert!(
            html.contains(">12 ms without a leader · stream back after 80 ms · 1 event replayed<"),
            "{html}"
        );
        assert!(body_html(&[]).contains(r#"data-testid="timeline-empty""#));
        assert!(body_html(&[row(None, None)]).starts_with(r#"<ol class="timeline" reversed><li "#));
        let unknown = rows_html(&[row(None, None)]);
        assert!(!unknown.contains("data-to"), "{unknown}");
        assert!(!unknown.contains("data-until-delivering-ms"), "{unknown}");
        assert_eq!(
            rows_html(&[row(None, None), row(None, None)])
                .matches("<li ")
                .count(),
            2
        );
    }
}
