//! The BroadcastChannel between the tabs of one origin.
//!
//! Written with web-sys rather than leptos-use: `use_broadcast_channel` exposes the latest message
//! as a signal, so a burst of relayed events inside one tick would reach us as its last message
//! only. Every message must reach the core.

use super::driver::Driver;
use coord::{Input, Message};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{BroadcastChannel, MessageEvent};

pub struct Channel {
    channel: BroadcastChannel,
}

impl Channel {
    pub fn open(name: &str) -> Result<Self, JsValue> {
        Ok(Self {
            channel: BroadcastChannel::new(name)?,
        })
    }

    /// Feeds every message to the driver: ours decoded, anything else as `Undecodable` (counted,
    /// otherwise ignored: another script may share the channel name, or a tab may be forged).
    pub fn listen(&self, driver: &Rc<Driver>) {
        let driver = Rc::clone(driver);
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |message: MessageEvent| {
            let input = match message
                .data()
                .as_string()
                .map(|text| Message::decode(&text))
            {
                Some(Ok(message)) => Input::Channel(message),
                _ => Input::Undecodable,
            };
            driver.input(input);
        });
        self.channel
            .set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        // Lives as long as the tab.
        on_message.forget();
    }

    pub fn post(&self, message: &Message) {
        if let Err(err) = self
            .channel
            .post_message(&JsValue::from_str(&message.encode()))
        {
            leptos::logging::warn!("tabrelay: posting on the channel failed: {err:?}");
        }
    }
}
