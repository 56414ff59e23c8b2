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

mod read;
mod value;
mod write;

pub use read::{from_str, parse, MAX_DEPTH};
pub use value::{object, one_of, FromJson, Object, Value};
pub use write::{to_string, write_str, ObjectWriter, ToJson};

use std::fmt;

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
