//! The wasm entry point. cargo-leptos builds this crate to `pkg/tabrelay.wasm`; the server-rendered
//! page calls [`hydrate`] once the module is loaded.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    app::tabrelay::runtime::executor::install();
    leptos::mount::hydrate_body(app::App);
}
