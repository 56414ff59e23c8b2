//! Event listeners that are removed when dropped (a drop guard, as mini-redis limits
//! connections): the runtime of a page that stops leaves nothing behind listening.

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::EventTarget;

/// One listener: where, for which event, and the closure.
type Added = (EventTarget, &'static str, Closure<dyn Fn(web_sys::Event)>);

/// Listeners added through [`Listeners::add`]; all removed on drop.
#[derive(Default)]
pub struct Listeners {
    added: Vec<Added>,
}

impl Listeners {
    /// Adds `listener` for `name` at `target`. An `Fn`: Firefox may fire a lifecycle event from
    /// inside a browser call this very listener makes (see `Driver::run`).
    pub fn add(
        &mut self,
        target: &EventTarget,
        name: &'static str,
        listener: impl Fn(web_sys::Event) + 'static,
    ) {
        let closure = Closure::<dyn Fn(web_sys::Event)>::new(listener);
        let _ = target.add_event_listener_with_callback(name, closure.as_ref().unchecked_ref());
        self.added.push((target.clone(), name, closure));
    }
}

impl Drop for Listeners {
    fn drop(&mut self) {
        for (target, name, closure) in &self.added {
            let _ =
                target.remove_event_listener_with_callback(name, closure.as_ref().unchecked_ref());
        }
    }
}
