//! Batch encoding: events as NDJSON, one compact JSON object per line, in the order given.
//! The same bytes are what an export object holds before compression.

use crate::event::Event;

/// Appends one line per event to `out`.
pub fn encode_ndjson<'a>(events: impl IntoIterator<Item = &'a Event>, out: &mut Vec<u8>) {
    for event in events {
        // Writing into a Vec cannot fail, and the event types always serialize.
        if serde_json::to_writer(&mut *out, event).is_ok() {
            out.push(b'\n');
        }
    }
}

/// Appends already-encoded event JSON (as stored) as NDJSON lines.
pub fn encode_stored_ndjson<'a>(lines: impl IntoIterator<Item = &'a str>, out: &mut Vec<u8>) {
    for line in lines {
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
}
