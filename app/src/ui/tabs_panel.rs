//! "Tabs": the live tab registry, every open tab with its role and when it was last heard from.
//! Drawn as one HTML string per tab (see `markup`).

use super::format::escape_into;
use super::frame::Paced;
use super::markup::{age_element, keep_rows, keep_text, Row};
use leptos::prelude::*;
use tabrelay::{role_word, TabRow, TabView};

const ROWS_ID: &str = "tab-rows";
const COUNT_ID: &str = "tabs-open";
/// The table's head: static, written once by the server.
const HEAD: &str = r#"<tr><th scope="col">Tab</th><th scope="col">Role</th><th scope="col">Visible</th><th scope="col">Last seen</th></tr>"#;

#[component]
pub fn TabsPanel(state: TabView, now: ReadSignal<f64>) -> impl IntoView {
    // Re-rendered once a change of leader settled (see `frame`), not while the tabs elect.
    let tabs = Paced::settled(state.tabs);
    // A row changes when its tab is heard from (the runtime updates that at most twice a
    // second); its age is filled and ticked by `markup`.
    let rows = Signal::derive(move || {
        tabs.with(|tabs| {
            tabs.iter()
                .map(|row| Row {
                    key: row.id.clone(),
                    html: tab_html(row, None),
                })
                .collect()
        })
    });
    let count = Signal::derive(move || format!("{} open", tabs.with(Vec::len)));
    keep_rows(ROWS_ID, rows);
    keep_text(COUNT_ID, count);
    // The server's page shows the ages as of its rendering.
    let rendered = move || {
        let now = now.get_untracked();
        state.tabs.with_untracked(|tabs| {
            tabs.iter()
                .map(|row| tab_html(row, Some(now)))
                .collect::<String>()
        })
    };
    view! {
        <section class="panel tabs" aria-labelledby="tabs-title">
            <h2 id="tabs-title">
                "Tabs " <span class="caption" id=COUNT_ID>{count.get_untracked()}</span>
            </h2>
            // Scrolls sideways inside the panel when the screen is too narrow for its ids; keyboard
            // users reach it too (it takes focus).
            <div class="table-scroll" role="region" aria-labelledby="tabs-title" tabindex="0">
                <table class="tab-table">
                    <thead inner_html=HEAD.to_string()></thead>
                    <tbody id=ROWS_ID inner_html=rendered()></tbody>
                </table>
            </div>
        </section>
    }
}

/// One tab of the table. Ids come from other tabs: escaped, never markup.
fn tab_html(row: &TabRow, now_ms: Option<f64>) -> String {
    let mut out = String::with_capacity(360);
    out.push_str(if row.is_self {
        r#"<tr class="self" data-tab-id=""#
    } else {
        r#"<tr data-tab-id=""#
    });
    escape_into(&mut out, &row.id);
    out.push_str(r#""><td><span class="mono one-line" title=""#);
    escape_into(&mut out, &row.id);
    out.push_str("\">");
    escape_into(&mut out, &row.id);
    out.push_str("</span>");
    if row.is_self {
        out.push_str(r#" <span class="caption">(this tab)</span>"#);
    }
    let role = role_word(row.role);
    out.push_str(r#"</td><td><span class="role-badge small" data-role=""#);
    out.push_str(role);
    out.push_str("\">");
    out.push_str(role);
    out.push_str("</span></td><td>");
    out.push_str(if row.visible { "yes" } else { "no" });
    out.push_str("</td>");
    if row.is_self {
        out.push_str(r#"<td class="mono one-line">now</td>"#);
    } else {
        age_element(&mut out, "td", "mono one-line", now_ms, row.last_seen_ms);
    }
    out.push_str("</tr>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use coord::Role;

    fn row(id: &str, is_self: bool) -> TabRow {
        TabRow {
            id: id.into(),
            role: Role::Follower,
            visible: !is_self,
            last_seen_ms: 1_000.4,
            is_self,
        }
    }

    #[test]
    fn a_tab_shows_its_role_and_age_and_escapes_its_id() {
        let html = tab_html(&row("t<1>", false), Some(3_000.0));
        assert_eq!(
            html,
            concat!(
                r#"<tr data-tab-id="t&lt;1&gt;"><td><span class="mono one-line" title="t&lt;1&gt;">t&lt;1&gt;</span></td>"#,
                r#"<td><span class="role-badge small" data-role="follower">follower</span></td><td>yes</td>"#,
                r#"<td class="mono one-line" data-age-at="1000">2.0 s ago</td></tr>"#
            )
        );
    }

    #[test]
    fn this_tab_is_marked_and_seen_now() {
        let html = tab_html(&row("me", true), None);
        assert!(
            html.starts_with(r#"<tr class="self" data-tab-id="me">"#),
            "{html}"
        );
        assert!(
            html.contains(r#"me</span> <span class="caption">(this tab)</span></td>"#),
            "{html}"
        );
        assert!(
            html.ends_with(r#"<td>no</td><td class="mono one-line">now</td></tr>"#),
            "{html}"
        );
        assert!(!html.contains("data-age-at"), "{html}");
    }
}
