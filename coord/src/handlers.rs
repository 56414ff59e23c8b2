//! A tiny `on` / `off` registry for the shell's app-facing API (`on("device-online", f)`).
//!
//! Generic over the handler type so that it stays pure: the shell stores `Rc<dyn Fn(..)>` or JS
//! functions, tests store plain values.

use std::collections::BTreeMap;

use crate::AppEvent;

/// Event names for the app events that are not server events.
pub mod app_event_name {
    pub const CONNECTED: &str = "connected";
    pub const ERROR: &str = "error";
    pub const ROLE_CHANGED: &str = "role-changed";
    pub const MAX_RECONNECT_REACHED: &str = "max-reconnect-reached";
    pub const RESET: &str = "reset";
    pub const LOST: &str = "lost";
}

/// Returned by [`Handlers::on`]; pass it to [`Handlers::off`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HandlerId(pub u64);

/// Handlers by event name, called in registration order.
#[derive(Debug, Clone)]
pub struct Handlers<H> {
    next: u64,
    by_name: BTreeMap<String, Vec<(HandlerId, H)>>,
}

impl<H> Default for Handlers<H> {
    fn default() -> Self {
        Self {
            next: 0,
            by_name: BTreeMap::new(),
        }
    }
}

impl<H> Handlers<H> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn on(&mut self, name: &str, handler: H) -> HandlerId {
        self.next += 1;
        let id = HandlerId(self.next);
        self.by_name
            .entry(name.to_owned())
            .or_default()
            .push((id, handler));
        id
    }

    /// Removes one handler; `false` if it was not registered.
    pub fn off(&mut self, id: HandlerId) -> bool {
        for list in self.by_name.values_mut() {
            if let Some(at) = list.iter().position(|(h, _)| *h == id) {
                list.remove(at);
                return true;
            }
        }
        false
    }

    /// The handlers for `name`, in registration order.
    pub fn get(&self, name: &str) -> impl Iterator<Item = &H> {
        self.by_name.get(name).into_iter().flatten().map(|(_, h)| h)
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.values().all(Vec::is_empty)
    }
}

/// The name an app event is dispatched under: the server event name for server events.
pub fn event_name(event: &AppEvent) -> &str {
    match event {
        AppEvent::Event { event, .. } => &event.name,
        AppEvent::Reset { .. } => app_event_name::RESET,
        AppEvent::Lost { .. } => app_event_name::LOST,
        AppEvent::Connected => app_event_name::CONNECTED,
        AppEvent::Error => app_event_name::ERROR,
        AppEvent::MaxReconnectReached => app_event_name::MAX_RECONNECT_REACHED,
        AppEvent::RoleChanged(_) => app_event_name::ROLE_CHANGED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ServerEvent;

    #[test]
    fn on_off_and_dispatch_names() {
        let mut h = Handlers::new();
        let a = h.on("device-online", "a");
        let b = h.on("device-online", "b");
        h.on("connected", "c");
        assert_eq!(
            h.get("device-online").copied().collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert!(h.off(a));
        assert!(!h.off(a));
        assert_eq!(h.get("device-online").copied().collect::<Vec<_>>(), ["b"]);
        assert!(h.off(b));
        assert!(!h.is_empty());
        let ev = AppEvent::Event {
            event: ServerEvent::new(Some(1), "device-offline", ""),
            relayed: false,
            latency: None,
        };
        assert_eq!(event_name(&ev), "device-offline");
        assert_eq!(event_name(&AppEvent::Connected), "connected");
    }
}
