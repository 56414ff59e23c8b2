//! [`use_shared_event_source`]: the hook, and [`SharedEventSource`], the handle it returns.
//!
//! One page may mount the hook more than once (a routed app, two components): mounts with the
//! same stream and names share one runtime, so the page stays one tab. What a mount registers
//! goes with its reactive owner; when the last mount's owner is cleaned up the tab leaves as it
//! would on `pagehide` (resigns, releases the lock, says goodbye, closes its stream).

use crate::options::Options;
use crate::view::TabView;
use crate::Mode;
use coord::handlers::HandlerId;
use coord::AppEvent;
#[cfg(feature = "hydrate")]
use leptos::prelude::*;
use serde::de::DeserializeOwned;
#[cfg(feature = "hydrate")]
use std::rc::Rc;

/// The name [`SharedEventSource::on`] takes for every server event, whatever its name (what
/// [`crate::Events::All`] brings in; the runtime's own events such as `connected` are not
/// included).
///
/// ```no_run
/// # use leptos::prelude::*;
/// let source = tabrelay::use_shared_event_source(tabrelay::Options::new("/api/log").all_events());
/// source.on(tabrelay::ANY_EVENT, |event| {
///     if let tabrelay::AppEvent::Event { event, .. } = event {
///         leptos::logging::log!("{} #{:?}: {}", event.name, event.id, event.data);
///     }
/// });
/// ```
pub const ANY_EVENT: &str = "*";

/// A handle on the shared stream: the [`TabView`] signals and an `EventSource`-like `on` / `off`
/// / `connect` / `disconnect` API. `Copy`, so views and callbacks can capture it freely.
///
/// Whether this tab holds the connection or receives the events from the leader tab is invisible
/// to handlers. On the server (SSR) nothing ever arrives: handlers are dropped.
#[derive(Clone, Copy)]
pub struct SharedEventSource {
    /// This tab's coordination, for a status line or a panel.
    pub view: TabView,
    /// The mode asked for; known on the server too, so a page can render it.
    pub mode: Mode,
    #[cfg(feature = "hydrate")]
    shared: StoredValue<Rc<crate::runtime::Shared>, LocalStorage>,
}

/// Starts sharing the stream (after hydration, in the browser) and returns its handle.
///
/// ```no_run
/// use leptos::prelude::*;
/// use tabrelay::{use_shared_event_source, Options};
///
/// #[component]
/// fn Ticker() -> impl IntoView {
///     let source = use_shared_event_source(Options::new("/api/prices").events(["price"]));
///     let last = RwSignal::new(String::new());
///     source.on("price", move |event| {
///         if let Some(data) = tabrelay::data(event) {
///             last.set(data.to_owned());
///         }
///     });
///     view! { <p>{move || last.get()}</p> }
/// }
/// ```
pub fn use_shared_event_source(options: Options) -> SharedEventSource {
    #[cfg(feature = "hydrate")]
    {
        let mode = options.mode;
        let shared = crate::runtime::Shared::mount(options);
        let source = SharedEventSource {
            view: shared.view(),
            mode,
            shared: StoredValue::new_local(shared),
        };
        on_cleanup(move || {
            if let Some(shared) = source.shared.try_get_value() {
                shared.unmount();
            }
        });
        source
    }
    #[cfg(not(feature = "hydrate"))]
    {
        SharedEventSource {
            view: TabView::new(),
            mode: options.mode,
        }
    }
}

impl SharedEventSource {
    /// Calls `handler` for every app event named `name`: a server event name, or one of
    /// `connected`, `error`, `role-changed`, `max-reconnect-reached`, `reset`, `lost`, or
    /// [`ANY_EVENT`] (`"*"`) for every server event. A handler
    /// registered inside a reactive owner (a component) is removed with it.
    pub fn on(&self, name: &str, handler: impl Fn(&AppEvent) + 'static) -> HandlerId {
        #[cfg(feature = "hydrate")]
        {
            let id = self.shared.get_value().on(name, Rc::new(handler));
            // An owner's children are cleaned up before its own values are dropped: the
            // runtime is still there when a component that registered a handler goes.
            let shared = self.shared;
            on_cleanup(move || {
                if let Some(shared) = shared.try_get_value() {
                    shared.off(id);
                }
            });
            id
        }
        #[cfg(not(feature = "hydrate"))]
        {
            let _ = (name, handler);
            HandlerId(0)
        }
    }

    /// Calls `handler` with the data of every `name` event decoded from JSON into `T`. Data that
    /// does not decode is logged with the event's name and skipped (the event itself is not
    /// lost: other handlers still get it raw).
    ///
    /// ```no_run
    /// #[derive(serde::Deserialize)]
    /// struct Message { from: String, text: String }
    /// let source = tabrelay::use_shared_event_source(tabrelay::Options::new("/api/chat").events(["message"]));
    /// source.on_json("message", |m: Message| leptos::logging::log!("{}: {}", m.from, m.text));
    /// ```
    pub fn on_json<T: DeserializeOwned + 'static>(
        &self,
        name: &str,
        handler: impl Fn(T) + 'static,
    ) -> HandlerId {
        let event_name = name.to_owned();
        self.on(name, move |event| {
            let Some(data) = crate::data(event) else {
                return;
            };
            match serde_json::from_str::<T>(data) {
                Ok(value) => handler(value),
                Err(err) => leptos::logging::warn!("tabrelay: bad {event_name} data: {err}"),
            }
        })
    }

    /// Removes a handler; `false` if it was not registered.
    pub fn off(&self, id: HandlerId) -> bool {
        #[cfg(feature = "hydrate")]
        {
            self.shared.get_value().off(id)
        }
        #[cfg(not(feature = "hydrate"))]
        {
            let _ = id;
            false
        }
    }

    /// One more user of the stream (reference counted).
    pub fn connect(&self) {
        self.send(coord::Input::Connect);
    }

    /// One user fewer; with none left in this tab, it stops receiving events.
    pub fn disconnect(&self) {
        self.send(coord::Input::Disconnect);
    }

    /// Hands leadership to another tab (a no-op in a follower).
    pub fn step_down(&self) {
        self.send(coord::Input::StepDown);
    }

    fn send(&self, input: coord::Input) {
        #[cfg(feature = "hydrate")]
        self.shared.get_value().input(input);
        #[cfg(not(feature = "hydrate"))]
        let _ = input;
    }
}
