//! The two control events of tabrelay's stream protocol, which a server that resumes by position
//! sends besides the app's events (see the server's README section "Nothing lost"):
//!
//! - `hello` (no `id:`), first on every stream: `{"epoch": "...", "head_id": N}`, the run of the
//!   event log the ids that follow belong to;
//! - `reset` (no `id:`): the position asked for cannot be continued (another run, or older than
//!   the log holds); the app's state starts again from the snapshot in its data, at
//!   `{"epoch", "head_id"}`.
//!
//! A server that sends neither still works: ids are then compared as plain numbers.

use std::cell::RefCell;
use wire::json;

/// The `hello` event's name.
pub const HELLO: &str = coord::event_names::HELLO;
/// The `reset` event's name.
pub const RESET: &str = coord::event_names::RESET;

/// Where a `hello` or a `reset` puts the stream: a run (epoch) and the newest id in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The run of the server's event log.
    pub epoch: String,
    /// The newest id in it when the event was sent.
    pub head_id: u64,
}

impl Head {
    /// The head a `hello` or `reset` event's data names; `None` when it names none.
    pub fn decode(data: &str) -> Option<Head> {
        let value = json::parse(data).ok()?;
        let o = value.as_object()?;
        Some(Head {
            epoch: o.field("epoch").ok()?,
            head_id: o.field("head_id").ok()?,
        })
    }

    /// The head as a stream position.
    pub fn position(&self) -> wire::Position {
        wire::Position::new(self.epoch.clone(), self.head_id)
    }
}

/// Which events of one stream carry an `id:` line. `lastEventId` repeats the last id the stream
/// carried on every later event, also on those without one; an event with its own `id:` always
/// changes it (ids increase), so an unchanged value means "no id". The protocol's `hello` and
/// `reset` never carry one.
#[derive(Default)]
pub struct IdReader {
    last: RefCell<String>,
}

impl IdReader {
    /// The id of the event `name` whose `lastEventId` is `last_event_id`, if it carried one.
    pub fn read(&self, name: &str, last_event_id: &str) -> Option<u64> {
        let changed = *self.last.borrow() != last_event_id;
        if changed {
            last_event_id.clone_into(&mut self.last.borrow_mut());
        }
        let protocol = name == HELLO || name == RESET;
        if !changed || protocol {
            return None;
        }
        last_event_id.parse::<u64>().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_event_that_changes_the_last_event_id_has_an_id() {
        let ids = IdReader::default();
        assert_eq!(ids.read(HELLO, ""), None, "hello never has one");
        assert_eq!(ids.read("price", "7"), Some(7));
        assert_eq!(
            ids.read("stats", "7"),
            None,
            "repeats the last id: no id line"
        );
        assert_eq!(
            ids.read("message", "8"),
            Some(8),
            "any name with an id is numbered"
        );
        assert_eq!(ids.read(RESET, "8"), None);
        assert_eq!(ids.read("price", "x9"), None, "not a decimal id");
        assert_eq!(ids.read("price", "10"), Some(10));
    }

    #[test]
    fn heads_decode_from_hello_and_reset_data() {
        let head = Head::decode(r#"{"epoch":"e1","head_id":4,"devices":[]}"#).unwrap();
        assert_eq!(head.position(), wire::Position::new("e1", 4));
        assert_eq!(Head::decode("{}"), None);
    }
}
