//! The parsed tree, and reading typed values out of it.

use super::Error;
use std::borrow::Cow;
use std::collections::BTreeMap;

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
        .ok_or_else(|| Error(format!("unknown variant `{s}`, {}", expected_one_of(names))))
}

/// serde's wording of the variants expected, written by hand: `{:?}` of a string would link
/// core's Unicode escape tables into the browser's bundle.
fn expected_one_of(names: &[&str]) -> String {
    match names {
        [] => "there are no variants".to_owned(),
        [one] => format!("expected `{one}`"),
        [a, b] => format!("expected `{a}` or `{b}`"),
        [first, rest @ ..] => rest
            .iter()
            .fold(format!("expected one of `{first}`"), |list, name| {
                format!("{list}, `{name}`")
            }),
    }
}
