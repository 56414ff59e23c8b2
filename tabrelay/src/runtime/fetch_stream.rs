//! The leader's stream read with `fetch` ([`crate::Events::All`]): `EventSource` hands a named
//! event only to a listener for that name, so to take every event the stream is read as bytes
//! and parsed by [`crate::sse::Parser`]. Reports the same inputs as the `EventSource`: opened,
//! each event (with its own id), and an error when the response is not an event stream or the
//! stream ends (the core schedules the reconnect).

use super::feed::Feed;
use crate::sse::Parser;
use coord::{Input, ServerEvent};
use std::cell::Cell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AbortController, Headers, ReadableStreamDefaultReader, RequestCache, RequestInit, Response,
    TextDecodeOptions, TextDecoder,
};

/// A stream being read; closed (aborted, and silent from then on) when dropped.
pub struct FetchStream {
    abort: AbortController,
    closed: Rc<Cell<bool>>,
}

impl FetchStream {
    /// Starts reading `url` (the resume point in its query, as for `EventSource`).
    pub fn open(feed: &Feed, url: &str) -> Result<Self, JsValue> {
        let abort = AbortController::new()?;
        let headers = Headers::new()?;
        headers.set("accept", "text/event-stream")?;
        let init = RequestInit::new();
        init.set_method("GET");
        init.set_headers(&headers);
        init.set_cache(RequestCache::NoStore);
        init.set_signal(Some(&abort.signal()));
        let window = web_sys::window().ok_or_else(|| JsValue::from_str("no window"))?;
        let response = window.fetch_with_str_and_init(url, &init);
        let closed = Rc::new(Cell::new(false));
        let reading = Reading {
            feed: feed.clone(),
            closed: Rc::clone(&closed),
        };
        wasm_bindgen_futures::spawn_local(reading.run(response));
        Ok(Self { abort, closed })
    }

    /// Stops reading: nothing more is reported.
    pub fn close(&self) {
        if !self.closed.replace(true) {
            self.abort.abort();
        }
    }
}

impl Drop for FetchStream {
    fn drop(&mut self) {
        self.close();
    }
}

struct Reading {
    feed: Feed,
    closed: Rc<Cell<bool>>,
}

impl Reading {
    fn report(&self, input: Input) {
        if !self.closed.get() {
            self.feed.input(input);
        }
    }

    async fn run(self, response: js_sys::Promise) {
        if self.read(response).await.is_err() || !self.closed.get() {
            // Ended or failed: the core backs off and reconnects from its position.
            self.report(Input::StreamError);
        }
    }

    async fn read(&self, response: js_sys::Promise) -> Result<(), JsValue> {
        let response: Response = JsFuture::from(response).await?.dyn_into()?;
        let event_stream = response
            .headers()
            .get("content-type")?
            .is_some_and(|t| t.starts_with("text/event-stream"));
        if !response.ok() || !event_stream {
            return Err(JsValue::from_str("not an event stream"));
        }
        let body = response
            .body()
            .ok_or_else(|| JsValue::from_str("no body"))?;
        let reader: ReadableStreamDefaultReader = body.get_reader().dyn_into()?;
        self.report(Input::StreamOpened);
        let decoder = TextDecoder::new()?;
        let options = TextDecodeOptions::new();
        options.set_stream(true);
        let mut parser = Parser::new();
        loop {
            let chunk = JsFuture::from(reader.read()).await?;
            let done = js_sys::Reflect::get(&chunk, &JsValue::from_str("done"))?;
            if done.as_bool().unwrap_or(true) || self.closed.get() {
                return Ok(());
            }
            let bytes = js_sys::Reflect::get(&chunk, &JsValue::from_str("value"))?;
            let text =
                decoder.decode_with_buffer_source_and_options(&bytes.dyn_into()?, &options)?;
            for event in parser.feed(&text) {
                // Checked per event: an input may close this stream (the core stepped down).
                if self.closed.get() {
                    return Ok(());
                }
                let event = ServerEvent::new(event.id, event.name, event.data);
                self.feed.input(Input::StreamEvent(event));
            }
        }
    }
}
