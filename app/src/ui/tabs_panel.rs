//! "Tabs": the live tab registry, every open tab with its role and when it was last heard from.

use super::format::age;
use super::frame::Paced;
use leptos::prelude::*;
use tabrelay::{role_word, TabRow, TabView};

#[component]
pub fn TabsPanel(state: TabView, now: ReadSignal<f64>) -> impl IntoView {
    // Re-rendered once a change of leader settled (see `frame`), not while the tabs elect.
    let tabs = Paced::settled(state.tabs);
    view! {
        <section class="panel tabs" aria-labelledby="tabs-title">
            <h2 id="tabs-title">
                "Tabs " <span class="caption">{move || tabs.with(Vec::len)} " open"</span>
            </h2>
            // Scrolls sideways inside the panel when the screen is too narrow for its ids; keyboard
            // users reach it too (it takes focus).
            <div class="table-scroll" role="region" aria-labelledby="tabs-title" tabindex="0">
                <table class="tab-table">
                    <thead>
                        <tr><th scope="col">"Tab"</th><th scope="col">"Role"</th><th scope="col">"Visible"</th><th scope="col">"Last seen"</th></tr>
                    </thead>
                    <tbody>
                        <For
                            each=move || tabs.get()
                            // `last_seen_ms` is in the key: a row is rebuilt when its tab is heard
                            // from (the runtime updates it at most twice a second), which costs
                            // less code than a row that looks its age up. This tab's own row says
                            // "now" and keeps its key.
                            key=|row| {
                                let seen = if row.is_self { 0 } else { row.last_seen_ms.to_bits() };
                                (row.id.clone(), row.role, row.visible, seen)
                            }
                            children=move |row: TabRow| {
                                let role = role_word(row.role);
                                let last_seen = row.last_seen_ms;
                                view! {
                                    <tr class:self=row.is_self data-tab-id=row.id.clone()>
                                        <td>
                                            <span class="mono one-line" title=row.id.clone()>{row.id.clone()}</span>
                                            {row.is_self.then_some(view! { " " <span class="caption">"(this tab)"</span> })}
                                        </td>
                                        <td><span class="role-badge small" data-role=role>{role}</span></td>
                                        <td>{if row.visible { "yes" } else { "no" }}</td>
                                        <td class="mono one-line">
                                            {move || if row.is_self { "now".to_string() } else { age(now.get(), last_seen) }}
                                        </td>
                                    </tr>
                                }
                            }
                        />
                    </tbody>
                </table>
            </div>
        </section>
    }
}
