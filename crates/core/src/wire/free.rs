//! A free-form object (`metadata`, `request.params`) read by the fast path without a
//! `serde_json::Map`: its strings borrowed from the request where they hold no escape, each
//! object a list of members sorted once read. Building a map (a node and a `String` per key and
//! per string) and walking it three times after (to measure it, to mask it, to write it) was a
//! quarter of ingest.
//!
//! While it is read, the object is measured: its depth, its compact length (exactly what
//! `serde_json::to_string` gives for the map the walker would build, as
//! [`crate::validate::measure_object`] counts it), and whether its stored bytes are its canonical
//! form too. The caller gives up (the walker takes the event) on a repeated key (the walker's map
//! keeps the last one), on an object too deep or too large, and on an object whose canonical form
//! differs from its stored one (a number other than a safe integer, a key from U+E000 up), which
//! the walker's map writes anew.
//!
//! Written, a tree gives the bytes serde_json gives for that map: members in byte order of their
//! keys, numbers as serde_json spells them, strings with its escapes.

use std::borrow::Cow;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Number;

use crate::integrity::is_safe_integer;
use crate::json_write;
use crate::redact::{MASK, Redactor};
use crate::validate::{json_string_len, number_len};

/// A JSON value of a free-form object.
#[derive(Debug)]
pub(crate) enum Node<'a> {
    Null,
    Bool(bool),
    Number(Number),
    /// Borrowed: held no escape in the request, so needs none written.
    Str(Cow<'a, str>),
    Array(Vec<Node<'a>>),
    Object(Members<'a>),
}

/// An object's members, sorted by key (byte order, as serde_json's map iterates).
pub(crate) type Members<'a> = Vec<(Cow<'a, str>, Node<'a>)>;

/// A free-form object with its measures.
#[derive(Debug)]
pub(crate) struct FreeObject<'a> {
    pub members: Members<'a>,
    /// Nesting depth: an object holding only scalars is 1.
    pub depth: usize,
    /// Length of its compact JSON.
    pub len: usize,
    /// Whether its compact JSON is its canonical form too.
    pub canonical: bool,
    /// A key appeared twice in some object.
    pub repeated_key: bool,
}

impl FreeObject<'_> {
    /// Masks every secret-looking value, as [`Redactor::redact_map`] does the walker's map:
    /// the whole value under such a key, not looked into; gives how many.
    pub(crate) fn mask(&mut self, redactor: &Redactor) -> usize {
        mask_members(&mut self.members, redactor)
    }

    /// Appends the compact JSON.
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        write_members(&self.members, out);
    }
}

fn mask_members(members: &mut Members<'_>, redactor: &Redactor) -> usize {
    let mut masked = 0;
    for (key, value) in members.iter_mut() {
        if redactor.is_secret_key(key) {
            *value = Node::Str(Cow::Borrowed(MASK));
            masked += 1;
        } else {
            masked += mask_node(value, redactor);
        }
    }
    masked
}

fn mask_node(node: &mut Node<'_>, redactor: &Redactor) -> usize {
    match node {
        Node::Object(members) => mask_members(members, redactor),
        Node::Array(items) => items.iter_mut().map(|i| mask_node(i, redactor)).sum(),
        _ => 0,
    }
}

/// A string as serde_json writes it: a borrowed one as it is (see [`Node::Str`]).
// The `Cow` itself is the point: which variant it is tells whether the text can need escapes.
#[allow(clippy::ptr_arg)]
fn write_str(text: &Cow<'_, str>, out: &mut Vec<u8>) {
    match text {
        Cow::Borrowed(t) => json_write::plain_string(out, t),
        Cow::Owned(t) => json_write::string(out, t),
    }
}

fn write_members(members: &Members<'_>, out: &mut Vec<u8>) {
    json_write::list(out, *b"{}", members, |out, (key, value)| {
        write_str(key, out);
        out.push(b':');
        write_node(value, out);
    });
}

fn write_node(node: &Node<'_>, out: &mut Vec<u8>) {
    match node {
        Node::Null => out.extend_from_slice(b"null"),
        Node::Bool(true) => out.extend_from_slice(b"true"),
        Node::Bool(false) => out.extend_from_slice(b"false"),
        Node::Number(n) => json_write::number(out, n),
        Node::Str(text) => write_str(text, out),
        Node::Array(items) => {
            json_write::list(out, *b"[]", items, |out, item| write_node(item, out))
        }
        Node::Object(members) => write_members(members, out),
    }
}

/// For `#[serde(deserialize_with)]`: absent or `null` is `None`, an object is read and
/// measured, anything else is an error (the fast path gives up).
pub(crate) fn opt_free_object<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<FreeObject<'de>>, D::Error> {
    d.deserialize_option(OptionVisitor)
}

struct OptionVisitor;

impl<'de> Visitor<'de> for OptionVisitor {
    type Value = Option<FreeObject<'de>>;

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
        let (node, depth) = d.deserialize_map(Measured(&mut meter))?;
        match node {
            Node::Object(members) => Ok(Some(FreeObject {
                members,
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
    fn number<'a>(&mut self, n: Number) -> (Node<'a>, usize) {
        self.len += number_len(&n);
        self.canonical &= is_safe_integer(&n);
        (Node::Number(n), 0)
    }
}

/// One value, giving it and its depth (scalars 0).
struct Measured<'m>(&'m mut Meter);

impl<'de> DeserializeSeed<'de> for Measured<'_> {
    type Value = (Node<'de>, usize);

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Measured<'_> {
    type Value = (Node<'de>, usize);

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        self.0.len += 4;
        Ok((Node::Null, 0))
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        self.0.len += if v { 4 } else { 5 };
        Ok((Node::Bool(v), 0))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(self.0.number(v.into()))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(self.0.number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        // As serde_json's `Value`: a number JSON can spell is always finite.
        match Number::from_f64(v) {
            Some(n) => Ok(self.0.number(n)),
            None => {
                self.0.len += 4;
                Ok((Node::Null, 0))
            }
        }
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        // serde_json lends a string only when it held no escape; with no escape, it holds no
        // `"`, `\` or control character either (JSON forbids them bare), so it is written back
        // as it was read: its length and two quotes.
        self.0.len += v.len() + 2;
        Ok((Node::Str(Cow::Borrowed(v)), 0))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        self.0.len += json_string_len(v);
        Ok((Node::Str(Cow::Owned(v.to_owned())), 0))
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
        Ok((Node::Array(items), depth + 1))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let meter = self.0;
        let mut members: Members<'de> = Vec::new();
        let mut depth = 0;
        while let Some((key, len)) = access.next_key_seed(Key)? {
            meter.len += len + 1;
            // Byte order differs from UTF-16 order only from U+E000 up (lead byte 0xEE+).
            meter.canonical &= !key.bytes().any(|b| b >= 0xee);
            let (value, d) = access.next_value_seed(Measured(&mut *meter))?;
            depth = depth.max(d);
            members.push((key, value));
        }
        meter.len += 2 + members.len().saturating_sub(1);
        // Stable, so of a repeated key the last stays last, as in serde_json's map.
        members.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        meter.repeated_key |= members.windows(2).any(|w| w[0].0 == w[1].0);
        Ok((Node::Object(members), depth + 1))
    }
}

/// A member name, and the length of its JSON string (see `visit_borrowed_str` above).
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = (Cow<'de, str>, usize);

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = (Cow<'de, str>, usize);

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a member name")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok((Cow::Borrowed(v), v.len() + 2))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok((Cow::Owned(v.to_owned()), json_string_len(v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::measure_object;
    use crate::validate::tests::arbitrary_json;
    use proptest::prelude::*;
    use serde_json::{Map, Value};

    fn read(text: &str) -> Option<FreeObject<'_>> {
        let mut de = serde_json::Deserializer::from_str(text);
        opt_free_object(&mut de).ok().flatten()
    }

    fn written(object: &FreeObject<'_>) -> String {
        let mut out = Vec::new();
        object.write(&mut out);
        String::from_utf8(out).unwrap()
    }

    proptest! {
        /// Written, the tree is serde_json's map written; the measures are those of the walks
        /// of that map; masked, it is the walker's map masked.
        #[test]
        fn agrees_with_the_map_the_walker_builds(
            entries in prop::collection::btree_map("[a-z\"\\\\\u{e000}]{0,4}|[pt]oken", arbitrary_json(), 0..5),
            pretty in any::<bool>(),
        ) {
            let map: Map<String, Value> = entries.into_iter().collect();
            let text = if pretty {
                serde_json::to_string_pretty(&map).unwrap()
            } else {
                serde_json::to_string(&map).unwrap()
            };
            let mut read = read(&text).unwrap();
            prop_assert_eq!(written(&read), serde_json::to_string(&map).unwrap());
            prop_assert_eq!((read.depth, read.len), measure_object(&map));
            prop_assert_eq!(read.canonical, crate::integrity::stored_is_canonical(&map));
            prop_assert!(!read.repeated_key);
            let redactor = Redactor::default();
            let mut masked = map.clone();
            let count = redactor.redact_map(&mut masked);
            prop_assert_eq!(read.mask(&redactor), count);
            prop_assert_eq!(written(&read), serde_json::to_string(&masked).unwrap());
        }
    }

    #[test]
    fn a_repeated_key_is_noted_and_null_is_absent() {
        let o = read(r#"{"a": 1, "b": {"c": 2, "c": 3}}"#).unwrap();
        assert!(o.repeated_key);
        assert!(!read(r#"{"b": 1, "a": {"c": 2}}"#).unwrap().repeated_key);
        assert!(read("null").is_none());
        let mut de = serde_json::Deserializer::from_str("[1]");
        assert!(opt_free_object(&mut de).is_err());
    }
}
