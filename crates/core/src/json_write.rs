//! Compact JSON written straight into a byte buffer, for the two forms every ingested event is
//! written in: its stored JSON ([`crate::event::Event::to_json`]) and its canonical form (the
//! receipt, [`crate::integrity`]).
//!
//! Why not `serde_json::to_writer`: its string escaper looks every byte up in a table and was
//! the largest single cost of ingest (15% of it, strings being written twice per event). Nearly
//! every string in an audit event needs no escape at all, so [`string`] first checks the whole
//! string eight bytes at a time ([`crate::byte_scan`]) and then copies it; only strings with something
//! to escape go byte by byte. The escapes are exactly serde_json's, which are also exactly
//! RFC 8785's (`\"`, `\\`, the short forms of \b \t \n \f \r, `\u00xx` in lowercase for the
//! other control characters, nothing else), so one writer serves both forms; tests hold every
//! function here to serde_json's bytes.

use serde_json::{Map, Number, Value};

/// Appends `text` as a JSON string, quotes included.
#[inline]
pub(crate) fn string(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    if crate::byte_scan::needs_json_escape(bytes) {
        out.reserve(bytes.len() + 2);
        out.push(b'"');
        escaped(out, bytes);
        out.push(b'"');
    } else {
        plain_string(out, text);
    }
}

/// Appends `text`, known to need no escape (no `"`, `\\` or control character), as a JSON
/// string: a copy between quotes.
#[inline]
pub(crate) fn plain_string(out: &mut Vec<u8>, text: &str) {
    debug_assert!(!crate::byte_scan::needs_json_escape(text.as_bytes()));
    out.reserve(text.len() + 2);
    out.push(b'"');
    out.extend_from_slice(text.as_bytes());
    out.push(b'"');
}

/// The slow path: copies the runs of plain bytes between the bytes to escape, found eight at a
/// time (free-form values often hold quoted JSON: a hundred bytes with a quote every few).
#[cold]
fn escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut start = 0;
    while let Some(offset) = bytes
        .get(start..)
        .and_then(crate::byte_scan::first_json_escape)
    {
        let at = start + offset;
        out.extend_from_slice(&bytes[start..at]);
        let b = bytes[at];
        let short = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            0x08 => b'b',
            0x09 => b't',
            0x0a => b'n',
            0x0c => b'f',
            0x0d => b'r',
            _ => b'u',
        };
        out.push(b'\\');
        out.push(short);
        if short == b'u' {
            out.extend_from_slice(b"00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        }
        start = at + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Appends an unsigned integer.
#[inline]
pub(crate) fn unsigned(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

/// Appends a number as serde_json writes it: integers as they are, floats by serde_json itself
/// (rare in audit metadata, and its float spelling is the one to match).
pub(crate) fn number(out: &mut Vec<u8>, n: &Number) {
    if let Some(u) = n.as_u64() {
        unsigned(out, u);
    } else if let Some(i) = n.as_i64() {
        out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
    } else {
        // Writing a finite number into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, n);
    }
}

/// Appends `value` exactly as `serde_json::to_writer` would: compact, with each object's
/// members in the map's own iteration order.
pub(crate) fn value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => number(out, n),
        Value::String(text) => string(out, text),
        Value::Array(items) => list(out, *b"[]", items, self::value),
        Value::Object(map) => object(out, map),
    }
}

/// Appends `map` as a JSON object, as [`value`] does.
pub(crate) fn object(out: &mut Vec<u8>, map: &Map<String, Value>) {
    list(out, *b"{}", map, |out, (key, item)| {
        string(out, key);
        out.push(b':');
        value(out, item);
    });
}

/// Appends `open`, then each item by `write` with commas between, then `close`.
#[inline]
pub(crate) fn list<T>(
    out: &mut Vec<u8>,
    [open, close]: [u8; 2],
    items: impl IntoIterator<Item = T>,
    mut write: impl FnMut(&mut Vec<u8>, T),
) {
    out.push(open);
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write(out, item);
    }
    out.push(close);
}

/// `"name":`, the start of a member, spelled at compile time so that writing it is one copy.
/// Keys are the schema's own names, which need no escaping.
/// `key!(, "name")` has a comma before it, `key!(open "name")` an opening brace.
macro_rules! key {
    ($name:literal) => {
        concat!("\"", $name, "\":").as_bytes()
    };
    (, $name:literal) => {
        concat!(",\"", $name, "\":").as_bytes()
    };
    (open $name:literal) => {
        concat!("{\"", $name, "\":").as_bytes()
    };
}
pub(crate) use key;

/// Writes the members of an object whose members are all optional, each key once (from
/// [`key!`]), with a comma before all but the first.
pub(crate) struct Members<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Members<'a> {
    pub(crate) fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Members { out, first: true }
    }

    /// Starts a member and gives the buffer to write its value into.
    pub(crate) fn key(&mut self, key: &[u8]) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.extend_from_slice(key);
        self.out
    }

    pub(crate) fn close(self) {
        self.out.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use proptest::prelude::*;

    use super::*;

    fn ours(v: &Value) -> String {
        let mut out = Vec::new();
        value(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn every_escape_is_serde_jsons() {
        let all: String = (0u8..0x80).map(char::from).collect();
        for text in [
            all.as_str(),
            "",
            "plain",
            "\"",
            "\\",
            "a\u{0}b\u{1f}c\u{7f}",
            "é\u{2028}😀",
            "ends with \n",
        ] {
            let v = Value::String(text.into());
            assert_eq!(ours(&v), serde_json::to_string(&v).unwrap(), "{text:?}");
        }
    }

    #[test]
    fn numbers_are_serde_jsons() {
        for text in [
            "0",
            "-1",
            "18446744073709551615",
            "-9223372036854775808",
            "1.5",
            "1e300",
            "-0.0",
            "0.1",
        ] {
            let v: Value = serde_json::from_str(text).unwrap();
            assert_eq!(ours(&v), serde_json::to_string(&v).unwrap(), "{text}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn any_value_is_written_as_serde_json_writes_it(
            v in crate::validate::tests::arbitrary_json()
        ) {
            prop_assert_eq!(ours(&v), serde_json::to_string(&v).unwrap());
        }

        #[test]
        fn any_string_is_written_as_serde_json_writes_it(text in any::<String>()) {
            let v = Value::String(text);
            prop_assert_eq!(ours(&v), serde_json::to_string(&v).unwrap());
        }
    }
}
