//! Tamper evidence, the pure part: the canonical form of a stored event and its SHA-256 (the
//! receipt the ingest response gives), the `integrity` member the exporter adds to each line,
//! and the checks the verifier runs over a stream of exported objects. No I/O: the exporter and
//! the verifier bring the bytes. The design and the threat model are in `docs/integrity.md`.
//!
//! The canonical form of a stored event is its JSON object serialized by RFC 8785 (JSON
//! Canonicalization Scheme): members sorted by UTF-16 code units, no whitespace, numbers and
//! strings in their one canonical spelling. Any JCS implementation reproduces it from a parsed
//! export line once the line's `integrity` member is removed, so the receipt can be checked
//! without our code.
//!
//! # Layout
//!
//! - this file: the canonical form, the receipt, and the export line with its `integrity`;
//! - `event_form.rs`: the stored JSON and receipt of a typed event, written once at ingest;
//! - `stream_check.rs`: the verifier's checks over a stream of objects.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use thiserror::Error;

pub use crate::object_keys::stream_of;
pub(crate) use event_form::stored_and_receipt_parts;
#[cfg(test)]
pub(crate) use event_form::stored_is_canonical;
pub use event_form::{event_receipt, stored_and_receipt};

mod event_form;

/// The member the exporter adds to every exported line. Events cannot carry it: the schema
/// allows no unknown top-level member.
pub const INTEGRITY_MEMBER: &str = "integrity";

#[derive(Debug, Error, PartialEq, Eq)]
pub enum IntegrityError {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("not a JSON object")]
    NotAnObject,
    #[error("the stored event already has an `integrity` member")]
    ReservedMember,
    #[error("cannot canonicalize: {0}")]
    Canonical(String),
    #[error("no `{INTEGRITY_MEMBER}` member")]
    NoIntegrity,
    #[error("`{INTEGRITY_MEMBER}` is malformed: {0}")]
    MalformedIntegrity(String),
}

/// The SHA-256 of `bytes`, as lowercase hex (how every hash appears in lines and digests).
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut text = [0u8; 64];
    // `hex::encode` builds its String a char at a time (2% of ingest); 32 bytes always fill
    // these 64 ASCII digits, so neither fallback is ever taken.
    match hex::encode_to_slice(digest, &mut text) {
        Ok(()) => String::from_utf8(text.to_vec()).unwrap_or_else(|_| hex::encode(digest)),
        Err(_) => hex::encode(digest),
    }
}

fn canonical_bytes(object: &Map<String, Value>) -> Result<Vec<u8>, IntegrityError> {
    let mut out = Vec::with_capacity(512);
    write_canonical_object(object, &mut out)?;
    Ok(out)
}

/// Appends the RFC 8785 (JCS) form of `value`. The walk is ours, for speed (every exported
/// line is hashed; `serde_jcs` alone cost several times the rest of the export): members are
/// sorted by their UTF-16 code units, strings are escaped by `crate::json_write` (whose escapes,
/// serde_json's, are exactly JCS's: `\"`, `\\`, the short forms of \b \t \n \f \r, `\u00xx` in
/// lowercase for the other control characters, nothing else), and integers of magnitude at most
/// 2^53 are written as they are. Every other number (fractions, exponents, larger integers) is
/// written by `serde_jcs`, which formats it as ECMAScript does. A property test checks the whole
/// against `serde_jcs`.
pub fn write_canonical(value: &Value, out: &mut Vec<u8>) -> Result<(), IntegrityError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            if is_safe_integer(n) {
                crate::json_write::number(out, n);
            } else {
                out.extend(
                    serde_jcs::to_vec(n).map_err(|e| IntegrityError::Canonical(e.to_string()))?,
                );
            }
        }
        Value::String(text) => crate::json_write::string(out, text),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => write_canonical_object(map, out)?,
    }
    Ok(())
}

/// Past this magnitude JCS spells an integer as ECMAScript's double does, not as written.
const SAFE_INTEGER: u64 = 1 << 53;

/// Whether `n` is an integer JCS spells exactly as serde_json writes it.
pub(crate) fn is_safe_integer(n: &serde_json::Number) -> bool {
    n.as_u64().is_some_and(|u| u <= SAFE_INTEGER)
        || n.as_i64().is_some_and(|i| i.unsigned_abs() <= SAFE_INTEGER)
}

/// Whether `map` iterates in UTF-16 order already. Byte order is UTF-16 order unless a key
/// holds a character from U+E000 up (first byte 0xEE or more), where UTF-16 puts U+E000-U+FFFF
/// after the surrogate pairs of U+10000 and beyond; serde_json's sorted map iterates by bytes.
fn iterates_in_utf16_order(map: &Map<String, Value>) -> bool {
    let mut previous: Option<&[u8]> = None;
    for key in map.keys() {
        let key = key.as_bytes();
        if key.iter().any(|&b| b >= 0xee) || previous.is_some_and(|p| p >= key) {
            return false;
        }
        previous = Some(key);
    }
    true
}

fn write_canonical_object(
    map: &Map<String, Value>,
    out: &mut Vec<u8>,
) -> Result<(), IntegrityError> {
    let write_member = |i: usize, key: &str, value: &Value, out: &mut Vec<u8>| {
        if i > 0 {
            out.push(b',');
        }
        crate::json_write::string(out, key);
        out.push(b':');
        write_canonical(value, out)
    };
    out.push(b'{');
    if iterates_in_utf16_order(map) {
        for (i, (key, value)) in map.iter().enumerate() {
            write_member(i, key, value, out)?;
        }
    } else {
        // Sorted here whatever the map's own order (serde_json's `preserve_order` keeps
        // insertion order, and its sorted order is by UTF-8 bytes).
        let mut members: Vec<(&String, &Value)> = map.iter().collect();
        members.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
        for (i, (key, value)) in members.into_iter().enumerate() {
            write_member(i, key, value, out)?;
        }
    }
    out.push(b'}');
    Ok(())
}

fn parse_object(json: &str) -> Result<Map<String, Value>, IntegrityError> {
    match serde_json::from_str::<Value>(json) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(IntegrityError::NotAnObject),
        Err(e) => Err(IntegrityError::NotJson(e.to_string())),
    }
}

/// The receipt of a stored event: the SHA-256 (hex) of its canonical form.
pub fn receipt(stored_json: &str) -> Result<String, IntegrityError> {
    let object = parse_object(stored_json)?;
    if object.contains_key(INTEGRITY_MEMBER) {
        return Err(IntegrityError::ReservedMember);
    }
    Ok(sha256_hex(&canonical_bytes(&object)?))
}

/// What the last line of an exported object says about the object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectSummary {
    pub first_seq: u64,
    pub last_seq: u64,
    pub count: u64,
    /// SHA-256 of the compressed bytes of the stream's previous object; `None` for the first.
    pub previous_object_sha256: Option<String>,
    /// The destination's filter, when it has one: the stream holds only the events it admits,
    /// so a receipt missing from it may have been left out rather than lost. Covered by the
    /// object's hash, hence by the chain and the signed digests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<crate::stream::filter::Filter>,
}

/// The `integrity` member of one exported line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineIntegrity {
    /// Position in the destination's stream: contiguous from 1, assigned at export.
    pub seq: u64,
    /// The SHA-256 of the line's record without this member, in canonical form: for a v1 line
    /// (the stored event) the event's receipt.
    pub sha256: String,
    /// On a line in another format (OCSF, ECS): the event it was rendered from, by id and
    /// ingest receipt, which the record's own hash cannot show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<SourceEvent>,
    /// On the last line of each object only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectSummary>,
}

/// The v1 event behind a record in another format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceEvent {
    pub id: String,
    /// The event's ingest receipt (SHA-256 of its canonical v1 form).
    pub receipt: String,
}

/// The exported line of a stored event: the stored object, byte for byte, with `integrity`
/// appended as its last member. Splicing (rather than re-serializing) keeps the event's own
/// bytes exactly as they were stored.
pub fn export_line(stored_json: &str, integrity: &LineIntegrity) -> Result<String, IntegrityError> {
    let trimmed = stored_json.trim_end();
    let Some(body) = trimmed.strip_suffix('}') else {
        return Err(IntegrityError::NotAnObject);
    };
    let member =
        serde_json::to_string(integrity).map_err(|e| IntegrityError::NotJson(e.to_string()))?;
    let separator = if body.trim_end().ends_with('{') {
        ""
    } else {
        ","
    };
    Ok(format!(
        "{body}{separator}\"{INTEGRITY_MEMBER}\":{member}}}"
    ))
}

/// One exported line, parsed: what it claims, and the hash of what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedLine {
    pub integrity: LineIntegrity,
    /// The SHA-256 of the line's event (the line without `integrity`), recomputed.
    pub actual_sha256: String,
    /// The event's `id`, when it has one.
    pub id: Option<String>,
}

/// Parses one exported line and recomputes its event's hash.
pub fn parse_line(line: &str) -> Result<ParsedLine, IntegrityError> {
    let mut object = parse_object(line)?;
    let integrity = object
        .remove(INTEGRITY_MEMBER)
        .ok_or(IntegrityError::NoIntegrity)?;
    let integrity: LineIntegrity = serde_json::from_value(integrity)
        .map_err(|e| IntegrityError::MalformedIntegrity(e.to_string()))?;
    let actual_sha256 = sha256_hex(&canonical_bytes(&object)?);
    let id = object.get("id").and_then(Value::as_str).map(str::to_string);
    Ok(ParsedLine {
        integrity,
        actual_sha256,
        id,
    })
}

mod stream_check;
pub(crate) use stream_check::range;
pub use stream_check::{ObjectContent, Problem, StreamCheck, StreamStart, check_stream};

#[cfg(test)]
mod tests;
