//! The size of free-form JSON as it will be stored, counted without writing it.

use serde_json::{Map, Value};

/// Nesting depth (an object holding only scalars is 1) and exact compact-JSON byte length of
/// an object, in one walk and without serializing it.
pub fn measure_object(map: &Map<String, Value>) -> (usize, usize) {
    let mut depth = 0;
    let mut len = 2 + map.len().saturating_sub(1);
    for (key, value) in map {
        let (d, l) = measure_value(value);
        depth = depth.max(d);
        len += json_string_len(key) + 1 + l;
    }
    (depth + 1, len)
}

fn measure_value(value: &Value) -> (usize, usize) {
    match value {
        Value::Null => (0, 4),
        Value::Bool(b) => (0, if *b { 4 } else { 5 }),
        Value::Number(n) => (0, number_len(n)),
        Value::String(s) => (0, json_string_len(s)),
        Value::Array(items) => {
            let mut depth = 0;
            let mut len = 2 + items.len().saturating_sub(1);
            for item in items {
                let (d, l) = measure_value(item);
                depth = depth.max(d);
                len += l;
            }
            (depth + 1, len)
        }
        Value::Object(map) => measure_object(map),
    }
}

pub(crate) fn number_len(n: &serde_json::Number) -> usize {
    if let Some(u) = n.as_u64() {
        digits(u)
    } else if let Some(i) = n.as_i64() {
        1 + digits(i.unsigned_abs())
    } else {
        // Floats are rare in audit metadata; let serde_json format them exactly as it will.
        compact_len(n)
    }
}

fn digits(mut n: u64) -> usize {
    let mut count = 1;
    while n >= 10 {
        n /= 10;
        count += 1;
    }
    count
}

/// Length of a string as serde_json writes it: quotes, two-byte escapes for `"`, `\\` and the
/// common control characters, `\u00XX` for the other control characters, everything else as is.
pub(crate) fn json_string_len(s: &str) -> usize {
    let mut len = 2 + s.len();
    // Nearly every string needs no escape; one vectorized pass tells.
    if !crate::byte_scan::needs_json_escape(s.as_bytes()) {
        return len;
    }
    for b in s.bytes() {
        match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => len += 1,
            0x00..=0x1f => len += 5,
            _ => {}
        }
    }
    len
}

/// Byte length of the compact JSON serialization, without building the string.
pub fn compact_len<T: serde::Serialize + ?Sized>(value: &T) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    match serde_json::to_writer(&mut counter, value) {
        Ok(()) => counter.0,
        Err(_) => usize::MAX,
    }
}
