//! A tiny `on` / `off` registry for the shell's app-facing API (`on("device-online", f)`).
//!
//! Generic over the handler type so that it stays pure: the shell stores `Rc<dyn Fn(..)>` or JS
//! functions, tests store plain values.

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
    /// A list per name: a page listens to a handful of names, and a map type here would cost
    /// the browser's bundle more code than it saves in lookups.
    by_name: Vec<(String, Vec<(HandlerId, H)>)>,
}

impl<H> Default for Handlers<H> {
    fn default() -> Self {
        Self {
            next: 0,
            by_name: Vec::new(),
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
        match self.by_name.iter_mut().find(|(n, _)| n == name) {
            Some((_, list)) => list.push((id, handler)),
            None => self.by_name.push((name.to_owned(), vec![(id, handler)])),
        }
        id
    }

    /// Removes one handler; `false` if it was not registered.
    pub fn off(&mut self, id: HandlerId) -> bool {
        for (_, list) in &mut self.by_name {
            if let Some(at) = list.iter().position(|(h, _)| *h == id) {
                list.remove(at);
                return true;
            }
        }
        false
    }

    /// The handlers for `name`, in registration order.
    pub fn get(&self, name: &str) -> impl Iterator<Item = &H> {
        let list = self.by_name.iter().find(|(n, _)| n == name);
        list.into_iter().flat_map(|(_, list)| list).map(|(_, h)| h)
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.iter().all(|(_, list)| list.is_empty())
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
