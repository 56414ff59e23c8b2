//! Panels drawn as HTML strings: one DOM write per change, and no view code per element.
//!
//! Leptos compiles every element, attribute and closure of a `view!` into code of its own, for
//! hydrating it and for building it again; the dashboard's four display panels (this tab, the
//! server, the tabs, the devices) were ~24 KB of the brotli'd client that way, as much as the
//! library's whole runtime. What they show is text: here it is written by plain functions (tested
//! natively, values escaped with [`escape_into`](super::format::escape_into)) and put in the page
//! by three non-generic helpers, one copy each in the wasm whatever the panel:
//!
//! - [`keep_html`]: an element whose content is one string, rewritten when the string changes;
//! - [`keep_rows`]: an element whose children are rows, each row rewritten alone when it changes
//!   (a device that goes offline replaces one `<li>`, not the grid);
//! - [`keep_attribute`], [`keep_enabled`]: an attribute, a button's `disabled`;
//! - [`tick_ages`]: the "3 s ago" texts, `data-age-at` in the rows, advanced on the page's clock
//!   without re-rendering the rows.
//!
//! The server renders the same strings into the page (`inner_html`), so the page reads the same
//! before the wasm runs; after hydration the browser writes them once more, because this tab may
//! know more than the server did (its id, its role).

use leptos::prelude::*;

/// Keeps the content of the element `id` equal to `html` (the browser's side; the view renders
/// the first value itself, see the module's doc).
pub fn keep_html(id: &'static str, html: Signal<String>) {
    keep(id, html, Slot::Html);
}

/// Keeps the text of the element `id` equal to `text` (no HTML parser: for counts and totals,
/// which change with every event).
pub fn keep_text(id: &'static str, text: Signal<String>) {
    keep(id, text, Slot::Text);
}

/// Keeps the attribute `name` of the element `id` equal to `value` (`None`: absent).
pub fn keep_attribute(id: &'static str, name: &'static str, value: Signal<Option<String>>) {
    #[cfg(feature = "hydrate")]
    Effect::new(move |shown: Option<Option<String>>| {
        let value = value.get();
        if shown.as_ref() != Some(&value) {
            if let Some(element) = document().get_element_by_id(id) {
                let _ = match &value {
                    Some(value) => element.set_attribute(name, value),
                    None => element.remove_attribute(name),
                };
            }
        }
        value
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (id, name, value);
}

/// Keeps the element `id` enabled while `enabled` holds, `disabled` otherwise.
pub fn keep_enabled(id: &'static str, enabled: Signal<bool>) {
    keep_attribute(
        id,
        "disabled",
        Signal::derive(move || (!enabled.get()).then(String::new)),
    );
}

/// What [`keep`] writes.
#[derive(Clone, Copy)]
enum Slot {
    Html,
    Text,
}

fn keep(id: &'static str, value: Signal<String>, slot: Slot) {
    #[cfg(feature = "hydrate")]
    Effect::new(move |shown: Option<String>| {
        let value = value.get();
        // The first run writes whatever the server rendered (see the module's doc).
        if shown.as_ref() != Some(&value) {
            if let Some(element) = document().get_element_by_id(id) {
                match slot {
                    Slot::Html => element.set_inner_html(&value),
                    Slot::Text => element.set_text_content(Some(&value)),
                }
            }
        }
        value
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (id, value, slot);
}

/// One row of a [`keep_rows`] list: what identifies it (a device's id, a tab's id) and its HTML,
/// exactly one element.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub key: String,
    pub html: String,
}

/// Keeps the children of the element `id` equal to `rows`, one element per row, by key: a row
/// that changed is replaced alone, a row that came or went is inserted or removed alone (see
/// [`plan`]). The rows' ages are left empty in `rows` (so that a row changes with its data, not
/// with the clock) and filled in here, then by [`tick_ages`].
pub fn keep_rows(id: &'static str, rows: Signal<Vec<Row>>) {
    #[cfg(feature = "hydrate")]
    Effect::new(move |shown: Option<Vec<Row>>| {
        let rows = rows.get();
        let Some(parent) = document().get_element_by_id(id) else {
            return rows;
        };
        match shown {
            // The first run: what the server rendered may not be what this tab knows.
            None => {
                let html: String = rows.iter().map(|row| row.html.as_str()).collect();
                parent.set_inner_html(&html);
            }
            Some(shown) => apply(&parent, &plan(&shown, &rows), &rows),
        }
        fill_ages(&parent, js_sys::Date::now());
        rows
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (id, rows);
}

/// How to turn the rows shown into the new ones with few DOM writes: the rows the two lists share
/// at the start and at the end (by key) stay, replaced only where their HTML changed; the rows
/// between are removed and the new ones inserted in their place.
#[derive(Debug, PartialEq)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub struct Plan {
    /// `(index shown, index in the new rows)` of kept rows whose HTML changed.
    pub replace: Vec<(usize, usize)>,
    /// The shown rows to remove (after the replacements).
    pub remove: std::ops::Range<usize>,
    /// The new rows to insert where the removed ones were.
    pub insert: std::ops::Range<usize>,
}

#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub fn plan(shown: &[Row], rows: &[Row]) -> Plan {
    let prefix = shown
        .iter()
        .zip(rows)
        .take_while(|(old, new)| old.key == new.key)
        .count();
    let room = shown.len().min(rows.len()) - prefix;
    let suffix = shown
        .iter()
        .rev()
        .zip(rows.iter().rev())
        .take(room)
        .take_while(|(old, new)| old.key == new.key)
        .count();
    let kept = (0..prefix)
        .map(|i| (i, i))
        .chain((0..suffix).map(|j| (shown.len() - suffix + j, rows.len() - suffix + j)));
    Plan {
        replace: kept
            .filter(|&(old, new)| shown[old].html != rows[new].html)
            .collect(),
        remove: prefix..shown.len() - suffix,
        insert: prefix..rows.len() - suffix,
    }
}

#[cfg(feature = "hydrate")]
fn apply(parent: &web_sys::Element, plan: &Plan, rows: &[Row]) {
    let children = parent.children();
    for &(old, new) in &plan.replace {
        if let Some(child) = children.item(old as u32) {
            child.set_outer_html(&rows[new].html);
        }
    }
    for _ in plan.remove.clone() {
        if let Some(child) = children.item(plan.remove.start as u32) {
            child.remove();
        }
    }
    if !plan.insert.is_empty() {
        let html: String = rows[plan.insert.clone()]
            .iter()
            .map(|row| row.html.as_str())
            .collect();
        let _ = match children.item(plan.remove.start as u32) {
            Some(next) => next.insert_adjacent_html("beforebegin", &html),
            None => parent.insert_adjacent_html("beforeend", &html),
        };
    }
}

/// The attribute that marks a text as an age: its value is the instant, in whole ms since the
/// epoch (an integer: the bundle carries no float parser).
pub const AGE_AT: &str = "data-age-at";

/// `<tag class="…" data-age-at="…">3 s ago</tag>`: an age that [`tick_ages`] keeps current;
/// with no `now_ms`, empty until then (what [`keep_rows`] compares).
pub fn age_element(out: &mut String, tag: &str, class: &str, now_ms: Option<f64>, at_ms: f64) {
    let at = at_ms.max(0.0).round();
    out.push('<');
    out.push_str(tag);
    out.push_str(" class=\"");
    out.push_str(class);
    out.push_str("\" ");
    out.push_str(AGE_AT);
    out.push_str("=\"");
    out.push_str(&(at as u64).to_string());
    out.push_str("\">");
    if let Some(now_ms) = now_ms {
        out.push_str(&super::format::age(now_ms, at));
    }
    out.push_str("</");
    out.push_str(tag);
    out.push('>');
}

/// Advances every age on the page ([`age_element`]) when `now` ticks.
pub fn tick_ages(now: ReadSignal<f64>) {
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let now = now.get();
        if let Some(root) = document().document_element() {
            fill_ages(&root, now);
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = now;
}

/// Writes the ages under `root` that read differently at `now`.
#[cfg(feature = "hydrate")]
fn fill_ages(root: &web_sys::Element, now: f64) {
    let Ok(ages) = root.query_selector_all("[data-age-at]") else {
        return;
    };
    for index in 0..ages.length() {
        let Some(node) = ages.item(index) else {
            continue;
        };
        let at = wasm_bindgen::JsCast::dyn_ref::<web_sys::Element>(&node)
            .and_then(|element| element.get_attribute(AGE_AT))
            .and_then(|at| at.parse::<u64>().ok());
        if let Some(at) = at {
            let text = super::format::age(now, at as f64);
            if node.text_content().as_deref() != Some(text.as_str()) {
                node.set_text_content(Some(&text));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_age_carries_its_instant_in_whole_ms_and_reads_as_an_age() {
        let mut html = String::new();
        age_element(&mut html, "span", "caption", Some(10_000.0), 9_599.6);
        assert_eq!(
            html,
            r#"<span class="caption" data-age-at="9600">0.4 s ago</span>"#
        );
        let mut empty = String::new();
        age_element(&mut empty, "td", "mono", None, 9_599.6);
        assert_eq!(empty, r#"<td class="mono" data-age-at="9600"></td>"#);
    }

    fn rows(spec: &str) -> Vec<Row> {
        // "a b2 c": keys a, b, c; a digit after a key is its HTML's version.
        spec.split_whitespace()
            .map(|word| Row {
                key: word[..1].to_string(),
                html: format!("<li>{word}</li>"),
            })
            .collect()
    }

    /// What a plan does to the list shown, as `apply` does it to the DOM.
    fn applied(shown: &[Row], plan: &Plan, new: &[Row]) -> Vec<Row> {
        let mut out = shown.to_vec();
        for &(old, at) in &plan.replace {
            out[old] = new[at].clone();
        }
        out.splice(
            plan.remove.clone(),
            new[plan.insert.clone()].iter().cloned(),
        );
        out
    }

    #[test]
    fn a_plan_turns_any_list_into_any_other() {
        let lists = [
            "", "a", "b", "a b", "a2 b", "a b c", "a c", "b c", "c b a", "a b2 c d", "d", "a d",
        ];
        for shown in lists {
            for new in lists {
                let (shown, new) = (rows(shown), rows(new));
                let plan = plan(&shown, &new);
                assert_eq!(applied(&shown, &plan, &new), new, "{shown:?} -> {new:?}");
            }
        }
    }

    #[test]
    fn a_change_touches_only_its_row() {
        let shown = rows("a b c d");
        let one_changed = plan(&shown, &rows("a b2 c d"));
        assert_eq!(
            one_changed,
            Plan {
                replace: vec![(1, 1)],
                remove: 4..4,
                insert: 4..4
            }
        );
        let inserted = plan(&shown, &rows("a b x c d"));
        assert_eq!(
            inserted,
            Plan {
                replace: vec![],
                remove: 2..2,
                insert: 2..3
            }
        );
        let removed = plan(&shown, &rows("a c d"));
        assert_eq!(
            removed,
            Plan {
                replace: vec![],
                remove: 1..2,
                insert: 1..1
            }
        );
        let same = plan(&shown, &shown);
        assert_eq!(
            same,
            Plan {
                replace: vec![],
                remove: 4..4,
                insert: 4..4
            }
        );
    }
}
