//! A parser of the `text/event-stream` format (WHATWG HTML, "Parsing an event stream"), for
//! [`crate::Events::All`]: `EventSource` delivers a named event only to a listener for that name,
//! so a tab that takes every event reads the stream with `fetch` and parses it here. Pure: the
//! browser side feeds it decoded text, in whatever chunks the network gives.
//!
//! Unlike `EventSource.lastEventId`, which repeats the stream's last id on every later event,
//! [`SseEvent::id`] is the event's own `id:` field (the resume point is then exact).

/// One event of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, or `message` without one.
    pub name: String,
    /// The `data:` lines joined by `\n`.
    pub data: String,
    /// The event's own `id:` field, when it had one that is a decimal integer.
    pub id: Option<u64>,
}

/// Splits text into lines and lines into events; keeps what a chunk left unfinished.
#[derive(Debug, Default)]
pub struct Parser {
    /// The unfinished line.
    line: String,
    /// The last chunk ended with `\r`: a `\n` first in the next one belongs to it.
    after_cr: bool,
    name: String,
    data: String,
    /// `data:` seen (an event whose data is empty still dispatches).
    has_data: bool,
    id: Option<u64>,
}

impl Parser {
    /// A parser at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next chunk of text; returns the events it completed, in order.
    pub fn feed(&mut self, chunk: &str) -> Vec<SseEvent> {
        let mut out = Vec::new();
        let mut rest = chunk;
        if self.after_cr && !rest.is_empty() {
            self.after_cr = false;
            rest = rest.strip_prefix('\n').unwrap_or(rest);
        }
        while let Some(at) = rest.find(['\r', '\n']) {
            self.line.push_str(&rest[..at]);
            let line = std::mem::take(&mut self.line);
            self.take_line(&line, &mut out);
            let crlf = rest[at..].starts_with("\r\n");
            if rest[at..].starts_with('\r') && at + 1 == rest.len() {
                self.after_cr = true;
            }
            rest = &rest[at + if crlf { 2 } else { 1 }..];
        }
        self.line.push_str(rest);
        out
    }

    fn take_line(&mut self, line: &str, out: &mut Vec<SseEvent>) {
        if line.is_empty() {
            return self.dispatch(out);
        }
        if line.starts_with(':') {
            return; // a comment (keep-alives)
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => value.clone_into(&mut self.name),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            // A value with U+0000 is ignored (the spec's rule); one that is not a decimal id
            // still resets nothing here: only numbered events are deduplicated and resumed.
            "id" if !value.contains('\0') => self.id = value.parse().ok(),
            _ => {} // `retry` (the core owns the reconnect policy) and unknown fields
        }
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        let name = std::mem::take(&mut self.name);
        let data = std::mem::take(&mut self.data);
        let id = self.id.take();
        if !std::mem::take(&mut self.has_data) {
            return; // no data: nothing is dispatched
        }
        out.push(SseEvent {
            name: if name.is_empty() {
                "message".to_owned()
            } else {
                name
            },
            data,
            id,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str, data: &str, id: Option<u64>) -> SseEvent {
        SseEvent {
            name: name.into(),
            data: data.into(),
            id,
        }
    }

    #[test]
    fn named_numbered_and_plain_events() {
        let mut parser = Parser::new();
        let events = parser.feed(
            "event: price\nid: 7\ndata: {\"cents\":1}\n\n: keep-alive\n\ndata: a\ndata: b\n\n",
        );
        assert_eq!(
            events,
            [
                event("price", "{\"cents\":1}", Some(7)),
                event("message", "a\nb", None)
            ]
        );
    }

    #[test]
    fn an_id_belongs_to_its_own_event_only() {
        let mut parser = Parser::new();
        let events = parser.feed("id: 3\nevent: a\ndata: x\n\nevent: b\ndata: y\n\n");
        assert_eq!(events, [event("a", "x", Some(3)), event("b", "y", None)]);
    }

    #[test]
    fn any_split_into_chunks_gives_the_same_events() {
        let text = "event: price\r\nid: 12\r\ndata: é€😀\r\n\r\nevent: halt\rdata:\r\rdata:x\n\n";
        let whole = Parser::new().feed(text);
        assert_eq!(
            whole,
            [
                event("price", "é€😀", Some(12)),
                event("halt", "", None),
                event("message", "x", None)
            ]
        );
        let chars: Vec<char> = text.chars().collect();
        for cut in 0..=chars.len() {
            for cut2 in cut..=chars.len() {
                let (a, b, c): (String, String, String) = (
                    chars[..cut].iter().collect(),
                    chars[cut..cut2].iter().collect(),
                    chars[cut2..].iter().collect(),
                );
                let mut parser = Parser::new();
                let mut events = parser.feed(&a);
                events.extend(parser.feed(&b));
                events.extend(parser.feed(&c));
                assert_eq!(events, whole, "cut at {cut} and {cut2}");
            }
        }
    }

    #[test]
    fn no_data_no_event_and_an_unfinished_event_waits() {
        let mut parser = Parser::new();
        assert_eq!(parser.feed("event: x\nid: 4\n\n"), []);
        assert_eq!(parser.feed("data: late"), []);
        assert_eq!(parser.feed("\n"), []);
        assert_eq!(parser.feed("\n"), [event("message", "late", None)]);
    }

    #[test]
    fn fields_without_a_colon_or_a_space_and_bad_ids() {
        let mut parser = Parser::new();
        let events = parser.feed("data\nid: x1\n\ndata:no-space\nid:9\n\n");
        assert_eq!(
            events,
            [
                event("message", "", None),
                event("message", "no-space", Some(9))
            ]
        );
    }
}
