//! The leader's one `EventSource`.
//!
//! Written with web-sys rather than leptos-use's `use_event_source`: that hook reconnects on its
//! own, while here the core owns the reconnect policy (backoff shared by every tab, resume from the
//! highest id any tab saw). On error this closes the `EventSource` and tells the core.

use super::feed::Feed;
use coord::{Input, ServerEvent};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{EventSource, MessageEvent};

/// The leader's stream, read by an `EventSource` (named events) or by `fetch` (every event).
/// Held, never read: dropping it closes the stream.
#[allow(dead_code)]
pub enum Stream {
    Source(SourceStream),
    Fetch(super::fetch_stream::FetchStream),
}

impl Stream {
    /// Opens `url`: with `names`, an `EventSource` listening for them; without, a `fetch`
    /// stream taking every event.
    pub fn open(feed: &Feed, url: &str, names: Option<&[String]>) -> Result<Self, JsValue> {
        Ok(match names {
            Some(names) => Self::Source(SourceStream::open(feed, url, names)?),
            None => Self::Fetch(super::fetch_stream::FetchStream::open(feed, url)?),
        })
    }
}

/// The leader's `EventSource`.
pub struct SourceStream {
    source: EventSource,
    // Kept so they are freed with the stream rather than leaked.
    _listeners: Vec<Closure<dyn Fn(MessageEvent)>>,
    _on_open: Closure<dyn Fn()>,
    _on_error: Closure<dyn Fn()>,
}

impl SourceStream {
    /// Opens `url` and listens for the events `names`; `EventSource` cannot set headers, so the
    /// resume point is in the query.
    pub fn open(feed: &Feed, url: &str, names: &[String]) -> Result<Self, JsValue> {
        let source = EventSource::new(url)?;
        let ids = Rc::new(crate::protocol::IdReader::default());
        let listeners = names
            .iter()
            .map(|name| {
                let feed = feed.clone();
                let ids = Rc::clone(&ids);
                let name = name.clone();
                let target = name.clone();
                let listener = Closure::<dyn Fn(MessageEvent)>::new(move |msg: MessageEvent| {
                    let data = msg.data().as_string().unwrap_or_default();
                    let id = ids.read(&name, &msg.last_event_id());
                    let event = ServerEvent::new(id, name.as_str(), data);
                    feed.input(Input::StreamEvent(event));
                });
                let _ = source
                    .add_event_listener_with_callback(&target, listener.as_ref().unchecked_ref());
                listener
            })
            .collect();
        let on_open = {
            let feed = feed.clone();
            Closure::<dyn Fn()>::new(move || feed.input(Input::StreamOpened))
        };
        source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        let on_error = {
            let feed = feed.clone();
            let source = source.clone();
            Closure::<dyn Fn()>::new(move || {
                // Stop EventSource's own retry: the core schedules the next attempt.
                source.close();
                feed.input(Input::StreamError);
            })
        };
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        Ok(Self {
            source,
            _listeners: listeners,
            _on_open: on_open,
            _on_error: on_error,
        })
    }

    pub fn close(&self) {
        self.source.set_onopen(None);
        self.source.set_onerror(None);
        self.source.close();
    }
}

impl Drop for SourceStream {
    fn drop(&mut self) {
        self.close();
    }
}
