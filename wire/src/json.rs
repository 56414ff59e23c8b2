//! A small JSON reader and writer for the browser side of the wire.
//!
//! The server speaks JSON through serde; so could the browser, but `serde_json`'s generic
//! deserializers, its float parser and printer and serde's error messages were about an eighth
//! of the client bundle. The client only ever reads a few known shapes (the tabs' channel
//! messages, the server's payloads) and writes fewer, so it reads text into a [`Value`] tree
//! (strings borrowed unless escaped, numbers kept as their text) and picks the fields it needs
//! ([`FromJson`], [`Object`]), and writes with [`ObjectWriter`]. Native tests check both
//! directions against serde's derived forms (`wire/tests/json_agrees_with_serde.rs`).
//!
//! The reader follows RFC 8259 strictly, like `serde_json`: one value, whitespace around it,
//! no trailing commas, no control characters in strings, no lone surrogates, nesting at most
//! [`MAX_DEPTH`] deep (so hostile input cannot overflow the stack), and it never panics. Of a
//! key that appears twice, the last one counts (as in `serde_json::Value`).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

/// The deepest nesting [`parse`] accepts (`serde_json`'s limit too).
pub const MAX_DEPTH: usize = 128;

/// A parsed JSON value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Null,
    Bool(bool),
    /// A number as written (already checked against JSON's grammar): read it with
    /// [`Value::as_u64`] or [`Value::as_i64`], so no float parser is needed for integers.
    Number(&'a str),
    String(Cow<'a, str>),
    Array(Vec<Value<'a>>),
    /// Members in the order written, duplicates included (see [`Object::get`]).
    Object(Vec<(Cow<'a, str>, Value<'a>)>),
}

/// Why a text is not JSON, or a value not the shape expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl Error {
    fn at(what: &str, at: usize) -> Self {
        Error(format!("{what} at byte {at}"))
    }
}

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
static STOPS: [bool; 256] = {
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

impl<'a> Value<'a> {
    /// The members, if this is an object.
    pub fn as_object(&self) -> Option<Object<'_, 'a>> {
        match self {
            Value::Object(members) => Some(Object(members)),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// A non-negative integer written without fraction or exponent that fits a `u64`.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Number(n) => n.parse().ok(),
            _ => None,
        }
    }

    /// An integer written without fraction or exponent that fits an `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(n) => n.parse().ok(),
            _ => None,
        }
    }

    /// A number as the nearest finite double (`None` past a double's range, as `serde_json`).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => n.parse::<f64>().ok().filter(|f| f.is_finite()),
            _ => None,
        }
    }

    /// A short name of the value's type, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        }
    }
}

/// The members of a JSON object, read by key.
#[derive(Debug, Clone, Copy)]
pub struct Object<'v, 'a>(&'v [(Cow<'a, str>, Value<'a>)]);

impl<'v, 'a> Object<'v, 'a> {
    /// The value of `key`; of a key written twice, the last.
    pub fn get(&self, key: &str) -> Option<&'v Value<'a>> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// A field that must be present (and not `null`, unless `T` is an `Option`).
    pub fn field<T: FromJson>(&self, key: &str) -> Result<T, Error> {
        match self.get(key) {
            Some(value) => T::from_json(value).map_err(|e| Error(format!("`{key}`: {e}"))),
            None => T::missing().ok_or_else(|| Error(format!("missing field `{key}`"))),
        }
    }

    /// A field that may be absent; absent reads as `T::default()`.
    pub fn field_or_default<T: FromJson + Default>(&self, key: &str) -> Result<T, Error> {
        match self.get(key) {
            Some(_) => self.field(key),
            None => Ok(T::default()),
        }
    }

    /// Every member, in the order written.
    pub fn members(&self) -> impl Iterator<Item = (&'v str, &'v Value<'a>)> {
        self.0.iter().map(|(k, v)| (&**k, v))
    }
}

/// A type read from a JSON [`Value`].
pub trait FromJson: Sized {
    fn from_json(value: &Value<'_>) -> Result<Self, Error>;

    /// What a missing field reads as: nothing, except for `Option` (`None`), as with serde.
    fn missing() -> Option<Self> {
        None
    }
}

fn expected<T>(what: &str, value: &Value<'_>) -> Result<T, Error> {
    Err(Error(format!("expected {what}, found {}", value.kind())))
}

impl FromJson for u64 {
    fn from_json(value: &Value<'_>) -> Result<Self, Error> {
        value
            .as_u64()
            .map_or_else(|| expected("an unsigned integer", value), Ok)
    }
}

impl FromJson for u32 {
    fn from_json(value: &Value<'_>) -> Result<Self, Error> {
        let n = u64::from_json(value)?;
        u32::try_from(n).map_err(|_| Error(format!("{n} is out of range")))
    }
}

impl FromJson for u16 {
    fn from_json(value: &Value<'_>) -> Result<Self, Error> {
        let n = u64::from_json(value)?;
        u16::try_from(n).map_err(|_| Error(format!("{n} is out of range")))
    }
}

impl FromJson for i64 {
    fn from_json(value: &Value<'_>) -> Result<Self, Error> {
        value
            .as_i64()
            .map_or_else(|| expected("an integer", value), Ok)
    }
}

impl FromJson for f64 {
    fn from_json(value: &Value<'_>) -> Result<Self, Error> {
        value
            .as_f64()
            .map_or_else(|| expected("a finite number", value), Ok)
    }
}

impl FromJson for bool {
    fn from_json(value: &Value<'_>) -> Result<Self, Error> {
        value
            .as_bool()
            .map_or_else(|| expected("a boolean", value), Ok)
    }
}

impl FromJson for String {
    fn from_json(value: &Value<'_>) -> Result<Self, Error> {
        value
            .as_str()
            .map_or_else(|| expected("a string", value), |s| Ok(s.to_owned()))
    }
}

impl<T: FromJson> FromJson for Option<T> {
    fn from_json(value: &Value<'_>) -> Result<Self, Error> {
        match value {
            Value::Null => Ok(None),
            value => T::from_json(value).map(Some),
        }
    }

    fn missing() -> Option<Self> {
        Some(None)
    }
}

impl<T: FromJson> FromJson for Vec<T> {
    fn from_json(value: &Value<'_>) -> Result<Self, Error> {
        match value {
            Value::Array(items) => items.iter().map(T::from_json).collect(),
            value => expected("an array", value),
        }
    }
}

impl<T: FromJson> FromJson for BTreeMap<String, T> {
    fn from_json(value: &Value<'_>) -> Result<Self, Error> {
        let Some(object) = value.as_object() else {
            return expected("an object", value);
        };
        object
            .members()
            .map(|(k, v)| Ok((k.to_owned(), T::from_json(v)?)))
            .collect()
    }
}

/// Reads an object: `read(&object)` with a clear error when `value` is not one.
pub fn object<T>(
    value: &Value<'_>,
    read: impl FnOnce(&Object<'_, '_>) -> Result<T, Error>,
) -> Result<T, Error> {
    match value.as_object() {
        Some(object) => read(&object),
        None => expected("an object", value),
    }
}

/// Reads a string that must be one of `names`: its index.
pub fn one_of(value: &Value<'_>, names: &[&str]) -> Result<usize, Error> {
    let Some(s) = value.as_str() else {
        return expected("a string", value);
    };
    names
        .iter()
        .position(|n| *n == s)
        .ok_or_else(|| Error(format!("unknown variant `{s}`, expected one of {names:?}")))
}

// ---- writing --------------------------------------------------------------------------------

/// A type written as JSON.
pub trait ToJson {
    fn write_json(&self, out: &mut String);
}

/// Writes `s` as a JSON string, escaped as `serde_json` does: `"`, `\` and control
/// characters (the short forms where JSON has them, `\u00XX` otherwise); nothing else.
pub fn write_str(out: &mut String, s: &str) {
    out.push('"');
    let mut run = 0;
    for (i, &b) in s.as_bytes().iter().enumerate() {
        if !STOPS[usize::from(b)] {
            continue;
        }
        out.push_str(&s[run..i]);
        let short = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            _ => "",
        };
        if short.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 0xf)] as char);
        } else {
            out.push_str(short);
        }
        run = i + 1;
    }
    out.push_str(&s[run..]);
    out.push('"');
}

impl ToJson for str {
    fn write_json(&self, out: &mut String) {
        write_str(out, self);
    }
}

impl ToJson for String {
    fn write_json(&self, out: &mut String) {
        write_str(out, self);
    }
}

impl ToJson for bool {
    fn write_json(&self, out: &mut String) {
        out.push_str(if *self { "true" } else { "false" });
    }
}

/// Writes the decimal digits of `n`.
fn write_u64(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // ASCII digits only.
    out.push_str(std::str::from_utf8(&digits[at..]).unwrap_or_default());
}

impl ToJson for u64 {
    fn write_json(&self, out: &mut String) {
        write_u64(out, *self);
    }
}

impl ToJson for u32 {
    fn write_json(&self, out: &mut String) {
        write_u64(out, u64::from(*self));
    }
}

impl ToJson for u16 {
    fn write_json(&self, out: &mut String) {
        write_u64(out, u64::from(*self));
    }
}

impl ToJson for i64 {
    fn write_json(&self, out: &mut String) {
        if *self < 0 {
            out.push('-');
        }
        write_u64(out, self.unsigned_abs());
    }
}

impl<T: ToJson> ToJson for Option<T> {
    fn write_json(&self, out: &mut String) {
        match self {
            Some(value) => value.write_json(out),
            None => out.push_str("null"),
        }
    }
}

impl<T: ToJson> ToJson for [T] {
    fn write_json(&self, out: &mut String) {
        out.push('[');
        for (i, item) in self.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            item.write_json(out);
        }
        out.push(']');
    }
}

impl<T: ToJson> ToJson for Vec<T> {
    fn write_json(&self, out: &mut String) {
        self.as_slice().write_json(out);
    }
}

impl<T: ToJson + ?Sized> ToJson for &T {
    fn write_json(&self, out: &mut String) {
        (**self).write_json(out);
    }
}

/// Writes one object, member by member, in the order called.
pub struct ObjectWriter<'o> {
    out: &'o mut String,
    empty: bool,
}

impl<'o> ObjectWriter<'o> {
    pub fn new(out: &'o mut String) -> Self {
        out.push('{');
        Self { out, empty: true }
    }

    /// Writes `"key":` and the value.
    pub fn field(&mut self, key: &str, value: &(impl ToJson + ?Sized)) -> &mut Self {
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
        write_str(self.out, key);
        self.out.push(':');
        value.write_json(self.out);
        self
    }

    /// Writes the member only when there is a value (serde's `skip_serializing_if = "Option::is_none"`).
    pub fn field_if_some(&mut self, key: &str, value: &Option<impl ToJson>) -> &mut Self {
        if let Some(value) = value {
            self.field(key, value);
        }
        self
    }

    pub fn end(self) {
        self.out.push('}');
    }
}

/// `value` as JSON text.
pub fn to_string(value: &(impl ToJson + ?Sized)) -> String {
    let mut out = String::new();
    value.write_json(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_kind_of_value() {
        let v = parse(r#" {"a":[1,-2.5e3,true,false,null],"b":"x\"\u00e9\ud83d\ude00","a":0} "#)
            .unwrap();
        let o = v.as_object().unwrap();
        assert_eq!(
            o.get("a"),
            Some(&Value::Number("0")),
            "the last duplicate counts"
        );
        assert_eq!(o.get("b").unwrap().as_str(), Some("x\"é😀"));
        assert_eq!(o.members().count(), 3);
    }

    #[test]
    fn rejects_what_json_does_not_allow() {
        for bad in [
            "",
            " ",
            "{",
            "[1,]",
            "{\"a\":1,}",
            "01",
            "1.",
            "-",
            "1e",
            "+1",
            "\"\u{1}\"",
            "\"\\x\"",
            "\"\\ud800\"",
            "\"\\udc00\"",
            "\"\\ud800\\u0041\"",
            "tru",
            "nul",
            "1 2",
            "{1:2}",
            "{\"a\" 1}",
            "[",
            "\"abc",
            "'a'",
            "NaN",
            "Infinity",
            "\u{feff}1",
        ] {
            assert!(parse(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn nesting_is_limited_not_a_stack_overflow() {
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse(&ok).is_ok());
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert!(parse(&deep).is_err());
        assert!(parse(&"[".repeat(100_000)).is_err());
    }

    #[test]
    fn integers_are_read_exactly_and_only_when_they_fit() {
        let n = |s| parse(s).unwrap();
        assert_eq!(n("18446744073709551615").as_u64(), Some(u64::MAX));
        assert_eq!(n("18446744073709551616").as_u64(), None);
        assert_eq!(n("-1").as_u64(), None);
        assert_eq!(n("-9223372036854775808").as_i64(), Some(i64::MIN));
        assert_eq!(n("1.0").as_u64(), None);
        assert_eq!(n("1e3").as_u64(), None);
        assert!(
            n("184467E4073709551615").as_u64().is_none(),
            "a huge exponent is just a number"
        );
    }

    #[test]
    fn fields_say_what_is_wrong() {
        let v = parse(r#"{"n":"x","m":null}"#).unwrap();
        let o = v.as_object().unwrap();
        assert_eq!(
            o.field::<u64>("n").unwrap_err().0,
            "`n`: expected an unsigned integer, found a string"
        );
        assert_eq!(o.field::<u64>("z").unwrap_err().0, "missing field `z`");
        assert_eq!(o.field::<Option<u64>>("z"), Ok(None));
        assert_eq!(o.field::<Option<u64>>("m"), Ok(None));
        assert!(o.field::<u64>("m").is_err());
    }

    #[test]
    fn strings_round_trip_through_the_writer() {
        for s in [
            "",
            "plain",
            "q\"b\\s/",
            "\n\r\t\u{8}\u{c}\u{0}\u{1f}\u{7f}",
            "é😀\u{2028}",
        ] {
            let text = to_string(s);
            assert_eq!(parse(&text).unwrap().as_str(), Some(s), "{text}");
        }
        assert_eq!(to_string("\u{1}\n"), r#""\u0001\n""#);
    }

    #[test]
    fn the_object_writer_separates_members() {
        let mut out = String::new();
        let mut w = ObjectWriter::new(&mut out);
        w.field("a", &1u64)
            .field("b", "x")
            .field_if_some("c", &None::<u64>);
        w.field_if_some("d", &Some(true))
            .field("e", &[Some(1u64), None][..]);
        w.end();
        assert_eq!(out, r#"{"a":1,"b":"x","d":true,"e":[1,null]}"#);
    }
}
