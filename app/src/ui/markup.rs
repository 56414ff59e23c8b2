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
    #[cfg(feature = "hydrate")]
    Effect::new(move |shown: Option<String>| {
        let html = html.get();
        // The first run writes whatever the server rendered (see the module's doc).
        if shown.as_ref() != Some(&html) {
            if let Some(element) = document().get_element_by_id(id) {
                element.set_inner_html(&html);
            }
        }
        html
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (id, html);
}

/// Keeps the children of the element `id` equal to `rows`, one element per row: rows that
/// changed are replaced one by one, new rows go in at the end, rows beyond the list come off it.
pub fn keep_rows(id: &'static str, rows: Signal<Vec<String>>) {
    #[cfg(feature = "hydrate")]
    Effect::new(move |shown: Option<Vec<String>>| {
        let rows = rows.get();
        let Some(parent) = document().get_element_by_id(id) else {
            return rows;
        };
        match shown {
            // The first run: what the server rendered may not be what this tab knows.
            None => parent.set_inner_html(&rows.concat()),
            Some(shown) => sync_children(&parent, &shown, &rows),
        }
        rows
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (id, rows);
}

#[cfg(feature = "hydrate")]
fn sync_children(parent: &web_sys::Element, shown: &[String], rows: &[String]) {
    let children = parent.children();
    for (index, (old, new)) in shown.iter().zip(rows).enumerate() {
        if old != new {
            if let Some(child) = children.item(index as u32) {
                child.set_outer_html(new);
            }
        }
    }
    if rows.len() > shown.len() {
        let _ = parent.insert_adjacent_html("beforeend", &rows[shown.len()..].concat());
    }
    for _ in rows.len()..shown.len() {
        if let Some(last) = parent.last_element_child() {
            last.remove();
        }
    }
}

/// Keeps the attribute `name` of the element `id` equal to `value` (`None`: absent).
pub fn keep_attribute(id: &'static str, name: &'static str, value: Signal<Option<String>>) {
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let value = value.get();
        if let Some(element) = document().get_element_by_id(id) {
            let _ = match value {
                Some(value) => element.set_attribute(name, &value),
                None => element.remove_attribute(name),
            };
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (id, name, value);
}

/// Keeps the element `id` enabled while `enabled` holds, `disabled` otherwise.
pub fn keep_enabled(id: &'static str, enabled: Signal<bool>) {
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let enabled = enabled.get();
        if let Some(element) = document().get_element_by_id(id) {
            let _ = if enabled {
                element.remove_attribute("disabled")
            } else {
                element.set_attribute("disabled", "")
            };
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (id, enabled);
}

/// The attribute that marks a text as an age: its value is the instant, in whole ms since the
/// epoch (an integer: the bundle carries no float parser).
pub const AGE_AT: &str = "data-age-at";

/// `<tag class="…" data-age-at="…">3 s ago</tag>`: an age [`tick_ages`] keeps current.
pub fn age_element(out: &mut String, tag: &str, class: &str, now_ms: f64, at_ms: f64) {
    out.push('<');
    out.push_str(tag);
    out.push_str(" class=\"");
    out.push_str(class);
    out.push_str("\" ");
    out.push_str(AGE_AT);
    out.push_str("=\"");
    out.push_str(&(at_ms.max(0.0).round() as u64).to_string());
    out.push_str("\">");
    out.push_str(&super::format::age(now_ms, at_ms.max(0.0).round()));
    out.push_str("</");
    out.push_str(tag);
    out.push('>');
}

/// Advances every age on the page ([`age_element`]) when `now` ticks.
pub fn tick_ages(now: ReadSignal<f64>) {
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let now = now.get();
        let Ok(ages) = document().query_selector_all("[data-age-at]") else {
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
                node.set_text_content(Some(&super::format::age(now, at as f64)));
            }
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = now;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_age_carries_its_instant_in_whole_ms_and_reads_as_an_age() {
        let mut html = String::new();
        age_element(&mut html, "span", "caption", 10_000.0, 9_599.6);
        assert_eq!(
            html,
            r#"<span class="caption" data-age-at="9600">0.4 s ago</span>"#
        );
    }
}
