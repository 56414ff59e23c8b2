//! Text to a [`Value`] tree: RFC 8259, strictly.

use super::{Error, FromJson, Value};
use std::borrow::Cow;

/// The deepest nesting [`parse`] accepts (`serde_json`'s limit too).
pub const MAX_DEPTH: usize = 128;

/// Parses one JSON value (with optional whitespace around it).
pub fn parse(text: &str) -> Result<Value<'_>, Error> {
    let mut reader = Reader {
        text,
        bytes: text.as_bytes(),
        at: 0,
    };
    let value = reader.value(0)?;
    reader.skip_whitespace();
    if reader.at != reader.bytes.len() {
        return Err(Error::at("trailing characters", reader.at));
    }
    Ok(value)
}

/// Parses `text` and reads it as a `T`.
pub fn from_str<T: FromJson>(text: &str) -> Result<T, Error> {
    T::from_json(&parse(text)?)
}

/// The bytes that end a run of plain string content: `"`, `\\` and control characters (one
/// table lookup per byte instead of three comparisons).
pub(super) static STOPS: [bool; 256] = {
    let mut stops = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        stops[b] = true;
        b += 1;
    }
    stops[b'"' as usize] = true;
    stops[b'\\' as usize] = true;
    stops
};

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.at += 1;
        }
    }

    fn expect_word(&mut self, word: &str) -> Result<(), Error> {
        if self.bytes[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            Ok(())
        } else {
            Err(Error::at("expected a value", self.at))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value<'a>, Error> {
        self.skip_whitespace();
        match self.peek() {
            None => Err(Error::at("unexpected end", self.at)),
            Some(b'n') => self.expect_word("null").map(|()| Value::Null),
            Some(b't') => self.expect_word("true").map(|()| Value::Bool(true)),
            Some(b'f') => self.expect_word("false").map(|()| Value::Bool(false)),
            Some(b'"') => self.string().map(Value::String),
            Some(b'-' | b'0'..=b'9') => self.number().map(Value::Number),
            Some(b'[') => {
                let depth = self.nest(depth)?;
                let mut items = Vec::new();
                self.skip_whitespace();
                if self.peek() == Some(b']') {
                    self.at += 1;
                    return Ok(Value::Array(items));
                }
                loop {
                    items.push(self.value(depth)?);
                    self.skip_whitespace();
                    match self.peek() {
                        Some(b',') => self.at += 1,
                        Some(b']') => {
                            self.at += 1;
                            return Ok(Value::Array(items));
                        }
                        _ => return Err(Error::at("expected , or ]", self.at)),
                    }
                }
            }
            Some(b'{') => {
                let depth = self.nest(depth)?;
                // Most objects on the wire have a few to a dozen members: one allocation.
                let mut members = Vec::with_capacity(8);
                self.skip_whitespace();
                if self.peek() == Some(b'}') {
                    self.at += 1;
                    return Ok(Value::Object(members));
                }
                loop {
                    self.skip_whitespace();
                    if self.peek() != Some(b'"') {
                        return Err(Error::at("expected a key", self.at));
                    }
                    let key = self.string()?;
                    self.skip_whitespace();
                    if self.peek() != Some(b':') {
                        return Err(Error::at("expected :", self.at));
                    }
                    self.at += 1;
                    members.push((key, self.value(depth)?));
                    self.skip_whitespace();
                    match self.peek() {
                        Some(b',') => self.at += 1,
                        Some(b'}') => {
                            self.at += 1;
                            return Ok(Value::Object(members));
                        }
                        _ => return Err(Error::at("expected , or }", self.at)),
                    }
                }
            }
            Some(_) => Err(Error::at("expected a value", self.at)),
        }
    }

    fn nest(&mut self, depth: usize) -> Result<usize, Error> {
        if depth >= MAX_DEPTH {
            return Err(Error::at("nested too deep", self.at));
        }
        self.at += 1;
        Ok(depth + 1)
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
        self.at - start
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    fn number(&mut self) -> Result<&'a str, Error> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(Error::at("expected a digit", self.at)),
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            if self.digits() == 0 {
                return Err(Error::at("expected a digit", self.at));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            if self.digits() == 0 {
                return Err(Error::at("expected a digit", self.at));
            }
        }
        Ok(&self.text[start..self.at])
    }

    /// The index of the next `"`, `\\` or control character from `at` (end of text if none).
    fn string_run_end(&self) -> usize {
        self.bytes[self.at..]
            .iter()
            .position(|&b| STOPS[usize::from(b)])
            .map_or(self.bytes.len(), |i| self.at + i)
    }

    fn string(&mut self) -> Result<Cow<'a, str>, Error> {
        self.at += 1; // the opening quote
        let start = self.at;
        // The common case: no escape, borrowed.
        self.at = self.string_run_end();
        match self.peek() {
            None => return Err(Error::at("unterminated string", self.at)),
            Some(b'"') => {
                self.at += 1;
                return Ok(Cow::Borrowed(&self.text[start..self.at - 1]));
            }
            Some(b'\\') => {}
            Some(_) => return Err(Error::at("control character in a string", self.at)),
        }
        let mut out = String::from(&self.text[start..self.at]);
        loop {
            let run = self.at;
            self.at = self.string_run_end();
            match self.peek() {
                None => return Err(Error::at("unterminated string", self.at)),
                Some(b'"' | b'\\') => {}
                Some(_) => return Err(Error::at("control character in a string", self.at)),
            }
            out.push_str(&self.text[run..self.at]);
            if self.peek() == Some(b'"') {
                self.at += 1;
                return Ok(Cow::Owned(out));
            }
            self.at += 1; // the backslash
            let simple = match self.peek() {
                Some(b'"') => Some('"'),
                Some(b'\\') => Some('\\'),
                Some(b'/') => Some('/'),
                Some(b'b') => Some('\u{8}'),
                Some(b'f') => Some('\u{c}'),
                Some(b'n') => Some('\n'),
                Some(b'r') => Some('\r'),
                Some(b't') => Some('\t'),
                Some(b'u') => None,
                _ => return Err(Error::at("invalid escape", self.at)),
            };
            self.at += 1;
            let escaped = match simple {
                Some(c) => c,
                None => self.unicode_escape()?,
            };
            out.push(escaped);
        }
    }

    /// The four hex digits after `\u` (and the low half after a high surrogate).
    fn unicode_escape(&mut self) -> Result<char, Error> {
        let high = self.hex4()?;
        let code = match high {
            0xD800..=0xDBFF => {
                if !self.bytes[self.at..].starts_with(b"\\u") {
                    return Err(Error::at("lone leading surrogate", self.at));
                }
                self.at += 2;
                let low = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&low) {
                    return Err(Error::at("invalid low surrogate", self.at));
                }
                0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(Error::at("lone trailing surrogate", self.at)),
            code => code,
        };
        char::from_u32(code).ok_or_else(|| Error::at("invalid escape", self.at))
    }

    fn hex4(&mut self) -> Result<u32, Error> {
        let digits = self
            .bytes
            .get(self.at..self.at + 4)
            .ok_or_else(|| Error::at("unterminated escape", self.at))?;
        let mut code = 0;
        for &d in digits {
            let v = (d as char)
                .to_digit(16)
                .ok_or_else(|| Error::at("invalid escape", self.at))?;
            code = code * 16 + v;
        }
        self.at += 4;
        Ok(code)
    }
}
