//! A free-form object (`metadata`, `request.params`) read into the `Map` the event keeps,
//! measured while it is read.
//!
//! The fast path must give up on an object too deep or too large, as the walker rejects it,
//! and the receipt needs to know whether the object's stored bytes are canonical already.
//! Each took a walk over the finished map; here the depth, the compact length (exactly what
//! `serde_json::to_string(&map).len()` gives, as [`crate::validate::measure_object`] counts
//! it) and the canonical test are added up as the values go by. A key given twice is noted
//! (the map keeps the last one, but the lengths counted both), and the caller gives up on it.
//!
//! Values are built as serde_json builds them: non-negative integers as `u64`, negative ones
//! as `i64`, other numbers as `f64`, the last member of a repeated key kept.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::integrity::is_safe_integer;
use crate::validate::{json_string_len, number_len};

/// An object with its measures.
pub(crate) struct FreeObject {
    pub map: Map<String, Value>,
    /// Nesting depth: an object holding only scalars is 1.
    pub depth: usize,
    /// Length of its compact JSON.
    pub len: usize,
    /// Whether its compact JSON (as serde_json writes it) is its canonical form too: no key
    /// whose UTF-16 order differs from its byte order, and no number but a safe integer.
    pub canonical: bool,
    /// A key appeared twice in some object: `len` counted both.
    pub repeated_key: bool,
}

/// For `#[serde(deserialize_with)]`: absent or `null` is `None`, an object is measured,
/// anything else is an error (the fast path gives up).
pub(crate) fn opt_free_object<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<FreeObject>, D::Error> {
    d.deserialize_option(OptionVisitor)
}

struct OptionVisitor;

impl<'de> Visitor<'de> for OptionVisitor {
    type Value = Option<FreeObject>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object or null")
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        let mut meter = Meter {
            len: 0,
            canonical: true,
            repeated_key: false,
        };
        let (value, depth) = d.deserialize_map(Measured(&mut meter))?;
        match value {
            Value::Object(map) => Ok(Some(FreeObject {
                map,
                depth,
                len: meter.len,
                canonical: meter.canonical,
                repeated_key: meter.repeated_key,
            })),
            _ => Err(de::Error::custom("expected an object")),
        }
    }
}

/// What is added up over the whole object.
struct Meter {
    len: usize,
    canonical: bool,
    repeated_key: bool,
}

impl Meter {
    fn number(&mut self, n: Number) -> (Value, usize) {
        self.len += number_len(&n);
        self.canonical &= is_safe_integer(&n);
        (Value::Number(n), 0)
    }

    fn string(&mut self, s: String) -> (Value, usize) {
        self.len += json_string_len(&s);
        (Value::String(s), 0)
    }
}

/// One value, giving it and its depth (scalars 0).
struct Measured<'m>(&'m mut Meter);

impl<'de> DeserializeSeed<'de> for Measured<'_> {
    type Value = (Value, usize);

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Measured<'_> {
    type Value = (Value, usize);

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        self.0.len += 4;
        Ok((Value::Null, 0))
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        self.0.len += if v { 4 } else { 5 };
        Ok((Value::Bool(v), 0))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(self.0.number(v.into()))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(self.0.number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        // As serde_json: a number JSON can spell is always finite.
        match Number::from_f64(v) {
            Some(n) => Ok(self.0.number(n)),
            None => {
                self.0.len += 4;
                Ok((Value::Null, 0))
            }
        }
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        // serde_json lends a string only when it held no escape; with no escape, it holds no
        // `"`, `\` or control character either (JSON forbids them bare), so it is written back
        // as it was read, in its length and two quotes.
        self.0.len += v.len() + 2;
        Ok((Value::String(v.to_owned()), 0))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.0.string(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(self.0.string(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let meter = self.0;
        let mut items = Vec::new();
        let mut depth = 0;
        while let Some((item, d)) = seq.next_element_seed(Measured(&mut *meter))? {
            items.push(item);
            depth = depth.max(d);
        }
        meter.len += 2 + items.len().saturating_sub(1);
        Ok((Value::Array(items), depth + 1))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let meter = self.0;
        let mut map = Map::new();
        let mut members = 0usize;
        let mut depth = 0;
        while let Some((key, len)) = access.next_key_seed(Key)? {
            meter.len += len + 1;
            // Byte order differs from UTF-16 order only from U+E000 up (lead byte 0xEE+).
            meter.canonical &= !key.bytes().any(|b| b >= 0xee);
            let (value, d) = access.next_value_seed(Measured(&mut *meter))?;
            depth = depth.max(d);
            members += 1;
            if map.insert(key, value).is_some() {
                meter.repeated_key = true;
            }
        }
        meter.len += 2 + members.saturating_sub(1);
        Ok((Value::Object(map), depth + 1))
    }
}

/// A member name, and the length of its JSON string (see `visit_borrowed_str` above).
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = (String, usize);

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = (String, usize);

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a member name")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok((v.to_owned(), v.len() + 2))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok((v.to_owned(), json_string_len(v)))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        let len = json_string_len(&v);
        Ok((v, len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::measure_object;
    use crate::validate::tests::arbitrary_json;
    use proptest::prelude::*;

    fn read(text: &str) -> Option<FreeObject> {
        let mut de = serde_json::Deserializer::from_str(text);
        opt_free_object(&mut de).ok().flatten()
    }

    proptest! {
        /// The map is serde_json's; the measures are those of the walks they replace.
        #[test]
        fn measures_what_the_walks_measure(
            entries in prop::collection::btree_map("[a-z\"\\\\\u{e000}]{0,4}", arbitrary_json(), 0..5),
            pretty in any::<bool>(),
        ) {
            let map: Map<String, Value> = entries.into_iter().collect();
            let text = if pretty {
                serde_json::to_string_pretty(&map).unwrap()
            } else {
                serde_json::to_string(&map).unwrap()
            };
            let read = read(&text).unwrap();
            prop_assert_eq!(&read.map, &map);
            prop_assert_eq!((read.depth, read.len), measure_object(&map));
            prop_assert_eq!(read.canonical, crate::integrity::stored_is_canonical(&map));
            prop_assert!(!read.repeated_key);
        }
    }

    #[test]
    fn a_repeated_key_is_noted_and_null_is_absent() {
        let o = read(r#"{"a": 1, "b": {"c": 2, "c": 3}}"#).unwrap();
        assert!(o.repeated_key);
        assert_eq!(o.map["b"]["c"], 3);
        assert!(read("null").is_none());
        let mut de = serde_json::Deserializer::from_str("[1]");
        assert!(opt_free_object(&mut de).is_err());
    }
}
