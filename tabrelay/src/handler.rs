//! What an app's handler is given.

use coord::AppEvent;
use std::rc::Rc;

/// A callback for [`crate::SharedEventSource::on`].
pub type Handler = Rc<dyn Fn(&AppEvent)>;

/// The data of a server event (`None` for the events the runtime itself emits, such as
/// `connected` or `role-changed`).
pub fn data(event: &AppEvent) -> Option<&str> {
    match event {
        AppEvent::Event { event, .. } | AppEvent::Reset { event, .. } => Some(&event.data),
        _ => None,
    }
}
