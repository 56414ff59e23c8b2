//! Where the runtime delivers, whichever mode it runs in: the view it mirrors this tab's
//! coordination into, the app's handlers, and the app's resync callback.

use crate::handler::Handler;
use crate::options::{Resync, ResyncReason};
use crate::view::TabView;
use coord::handlers::{HandlerId, Handlers};
use coord::AppEvent;
use std::cell::RefCell;

pub struct Sink {
    pub view: TabView,
    handlers: RefCell<Handlers<Handler>>,
    resync: Option<Resync>,
}

impl Sink {
    pub fn new(resync: Option<Resync>) -> Self {
        Self {
            view: TabView::new(),
            handlers: RefCell::new(Handlers::new()),
            resync,
        }
    }

    pub fn on(&self, name: &str, handler: Handler) -> HandlerId {
        self.handlers.borrow_mut().on(name, handler)
    }

    pub fn off(&self, id: HandlerId) -> bool {
        self.handlers.borrow_mut().off(id)
    }

    /// Forgets every handler (the runtime stopped).
    pub fn clear(&self) {
        self.handlers.replace(Handlers::new());
    }

    /// Calls the app's handlers for `event`, then those for every server event
    /// ([`crate::source::ANY_EVENT`]). Cloned out first: a handler may register or remove
    /// handlers, or call back into the runtime.
    ///
    /// Nothing once the page has left for good (see [`super::leaving`]): in every mode.
    pub fn emit(&self, event: &AppEvent) {
        if super::leaving::has_left() {
            return;
        }
        let name = coord::handlers::event_name(event);
        let any = matches!(event, AppEvent::Event { .. });
        let matching: Vec<Handler> = {
            let handlers = self.handlers.borrow();
            let every = any
                .then(|| handlers.get(crate::source::ANY_EVENT))
                .into_iter()
                .flatten();
            handlers.get(name).chain(every).cloned().collect()
        };
        for handler in matching {
            handler(event);
        }
    }

    /// Tells the app to fetch its state again, if it asked to be told.
    pub fn resync(&self, reason: ResyncReason) {
        if super::leaving::has_left() {
            return;
        }
        if let Some(resync) = &self.resync {
            (resync.0)(reason);
        }
    }
}
