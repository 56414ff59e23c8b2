//! Messages between tabs on the BroadcastChannel, as JSON strings.

use serde::{Deserialize, Serialize};

/// Marks our messages, so anything else posted on the channel is recognised and ignored.
const APP: &str = "tabrelay/1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Wire {
    /// A tab joined; the leader answers with a heartbeat so it learns its role at once.
    Hello,
    /// The leader is alive.
    Heartbeat { leader: String },
    /// A server event, relayed verbatim by the leader.
    Event { name: String, data: String },
}

#[derive(Serialize, Deserialize)]
struct Envelope<T> {
    app: String,
    #[serde(flatten)]
    message: T,
}

impl Wire {
    pub fn encode(&self) -> String {
        serde_json::to_string(&Envelope {
            app: APP.to_string(),
            message: self,
        })
        .expect("wire messages always serialise")
    }

    /// `None` for anything that is not a well-formed message of ours.
    pub fn decode(text: &str) -> Option<Self> {
        let envelope: Envelope<Wire> = serde_json::from_str(text).ok()?;
        (envelope.app == APP).then_some(envelope.message)
    }
}
