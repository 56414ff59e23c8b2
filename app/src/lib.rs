//! Placeholder until the UI lands.
pub mod model;
pub use coord;
use leptos::prelude::*;
#[component]
pub fn App() -> impl IntoView { view! { <p>"tabrelay"</p> } }
