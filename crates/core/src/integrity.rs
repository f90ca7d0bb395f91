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

use std::collections::BTreeMap;

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
/// sorted by their UTF-16 code units, strings are escaped by [`crate::json_write`] (whose escapes,
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
pub fn parse_line(line: &str) -> Result<ParsedLine, String> {
    let mut object = parse_object(line).map_err(|e| e.to_string())?;
    let integrity = object
        .remove(INTEGRITY_MEMBER)
        .ok_or_else(|| format!("no `{INTEGRITY_MEMBER}` member"))?;
    let integrity: LineIntegrity = serde_json::from_value(integrity)
        .map_err(|e| format!("`{INTEGRITY_MEMBER}` is malformed: {e}"))?;
    let actual_sha256 = sha256_hex(&canonical_bytes(&object).map_err(|e| e.to_string())?);
    let id = object.get("id").and_then(Value::as_str).map(str::to_string);
    Ok(ParsedLine {
        integrity,
        actual_sha256,
        id,
    })
}

/// One exported object as the verifier read it.
#[derive(Debug, Clone)]
pub struct ObjectContent {
    pub key: String,
    /// SHA-256 of the object's bytes as stored (compressed).
    pub sha256: String,
    /// The object's lines, uncompressed; `Err` when it could not be decompressed.
    pub text: Result<String, String>,
}

/// What the verifier found wrong, each with where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The object (or receipt) concerned.
    pub at: String,
    pub message: String,
}

/// The result of checking one stream of objects.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StreamCheck {
    pub objects: usize,
    pub events: u64,
    /// The last sequence number seen, and the hash of the last object (what a digest or the next
    /// object must continue from).
    pub last_seq: Option<u64>,
    pub last_object_sha256: Option<String>,
    pub problems: Vec<Problem>,
    /// The filter the stream's objects declare (the last one read), if any.
    pub filter: Option<crate::stream::filter::Filter>,
    /// Receipts of a filtered stream whose events it does not hold: left out by the filter, or
    /// lost; the receipts alone cannot tell which (they hold no action or outcome), so these
    /// are counted, not reported as problems. An unfiltered destination proves completeness.
    pub receipts_not_in_filtered_stream: u64,
}

impl Problem {
    pub(crate) fn new(at: &str, message: String) -> Self {
        Problem {
            at: at.to_string(),
            message,
        }
    }
}

impl StreamCheck {
    fn problem(&mut self, at: &str, message: String) {
        self.problems.push(Problem::new(at, message));
    }
}

/// Where the checked objects start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamStart {
    /// The stream's first object (seq 1, no previous object) must be there.
    Beginning,
    /// Older objects may have been pruned by retention: the first object present is taken as
    /// the start, its sequence number and its link to the object before it unchecked.
    FirstPresent,
}

/// Checks a destination's stream, objects in key order (keys sort by time): every line's hash,
/// sequence numbers contiguous within and across objects, each object's summary against its
/// lines, each object's link to the one before it, and, when given, that every receipt (`id` →
/// SHA-256 from the ingest response) is delivered with that hash. Each check is a function of
/// its own below; this walks the objects and hands each its part.
pub fn check_stream(
    objects: &[ObjectContent],
    start: StreamStart,
    receipts: &BTreeMap<String, String>,
) -> StreamCheck {
    let mut check = StreamCheck::default();
    let mut walk = Walk {
        expected_seq: 1,
        linked: start == StreamStart::Beginning,
        previous: None,
        delivered: BTreeMap::new(),
    };
    for object in objects {
        check.objects += 1;
        let key = object.key.as_str();
        match &object.text {
            Err(e) => check.problem(
                key,
                format!("cannot be read: {e} (truncated, or not the compression its name says)"),
            ),
            Ok(text) => {
                let lines = check_lines(&mut check, &mut walk, key, text);
                match lines.last.as_ref().and_then(|l| l.object.as_ref()) {
                    None => check.problem(
                        key,
                        "the last line carries no object summary (truncated, or lines removed at the end)"
                            .into(),
                    ),
                    Some(summary) => {
                        if summary.filter.is_some() {
                            check.filter.clone_from(&summary.filter);
                        }
                        check_summary(&mut check, key, summary, &lines);
                        check_link(&mut check, &walk, key, summary);
                    }
                }
            }
        }
        walk.previous = Some((object.key.clone(), object.sha256.clone()));
        walk.linked = true;
    }
    check.last_seq = walk.expected_seq.checked_sub(1).filter(|s| *s > 0);
    check.last_object_sha256 = walk.previous.map(|(_, sha)| sha);
    check_receipts(&mut check, receipts, &walk.delivered);
    check
}

/// Where the walk through a stream stands between objects.
struct Walk {
    /// The sequence number the next line must carry.
    expected_seq: u64,
    /// Whether the next object must link to the one before it (false only for the first
    /// object present of a pruned stream).
    linked: bool,
    /// The previous object's key and SHA-256.
    previous: Option<(String, String)>,
    /// Every event delivered so far: id → SHA-256 of its line's event.
    delivered: BTreeMap<String, String>,
}

/// What one object's lines held.
#[derive(Default)]
struct Lines {
    first_seq: Option<u64>,
    count: u64,
    last: Option<LineIntegrity>,
}

/// Every line of one object: its hash, its sequence number after the one before, and that
/// only the last line carries the object's summary.
fn check_lines(check: &mut StreamCheck, walk: &mut Walk, key: &str, text: &str) -> Lines {
    let mut lines = Lines::default();
    for (n, line) in text.lines().enumerate() {
        let parsed = match parse_line(line) {
            Ok(parsed) => parsed,
            Err(e) => {
                check.problem(key, format!("line {}: {e}", n + 1));
                continue;
            }
        };
        lines.count += 1;
        check.events += 1;
        let seq = parsed.integrity.seq;
        if !walk.linked && lines.first_seq.is_none() {
            // The first object present starts the check (retention pruned what came before).
            walk.expected_seq = seq;
        }
        if parsed.actual_sha256 != parsed.integrity.sha256 {
            check.problem(
                key,
                format!(
                    "line {} (seq {seq}): the event does not hash to its sha256 (modified)",
                    n + 1
                ),
            );
        }
        check_seq(check, key, n + 1, seq, walk.expected_seq);
        walk.expected_seq = walk.expected_seq.max(seq + 1);
        lines.first_seq.get_or_insert(seq);
        // A rendered record answers for its event by the id and receipt it carries (covered
        // by the object's hash); a v1 line is the event itself.
        match &parsed.integrity.event {
            Some(source) => {
                walk.delivered
                    .insert(source.id.clone(), source.receipt.clone());
            }
            None => {
                if let Some(id) = &parsed.id {
                    walk.delivered
                        .insert(id.clone(), parsed.actual_sha256.clone());
                }
            }
        }
        if let Some(earlier) = lines.last.take().filter(|l| l.object.is_some()) {
            check.problem(
                key,
                format!(
                    "seq {} carries an object summary but is not the last line (objects joined, or lines appended)",
                    earlier.seq
                ),
            );
        }
        lines.last = Some(parsed.integrity);
    }
    lines
}

/// A line's sequence number against the one expected: a gap means lines are missing, a step
/// back means they were reordered, duplicated or inserted.
fn check_seq(check: &mut StreamCheck, key: &str, line: usize, seq: u64, expected: u64) {
    if seq > expected {
        check.problem(
            key,
            format!(
                "sequence numbers {} missing before line {line} (seq {seq})",
                range(expected, seq - 1),
            ),
        );
    } else if seq < expected {
        check.problem(
            key,
            format!(
                "line {line} has seq {seq}, expected {expected} (reordered, duplicated or inserted)"
            ),
        );
    }
}

/// An object's summary against the lines it holds.
fn check_summary(check: &mut StreamCheck, key: &str, summary: &ObjectSummary, lines: &Lines) {
    let last_seq = lines.last.as_ref().map(|l| l.seq).unwrap_or_default();
    if summary.count != lines.count
        || Some(summary.first_seq) != lines.first_seq
        || summary.last_seq != last_seq
    {
        check.problem(
            key,
            format!(
                "holds {} lines (seq {}..{last_seq}) but its summary says {} (seq {}..{})",
                lines.count,
                lines.first_seq.unwrap_or_default(),
                summary.count,
                summary.first_seq,
                summary.last_seq
            ),
        );
    }
}

/// An object's link to the object before it (by that object's SHA-256).
fn check_link(check: &mut StreamCheck, walk: &Walk, key: &str, summary: &ObjectSummary) {
    let expected = walk.previous.as_ref().map(|(_, sha)| sha.as_str());
    if walk.linked && summary.previous_object_sha256.as_deref() != expected {
        // With no previous object, `expected` is None, so the summary names one.
        let message = match &walk.previous {
            Some((previous_key, _)) => format!(
                "does not follow {previous_key}: its previous-object hash differs (an object between them is missing, or one of them was replaced)"
            ),
            None => "is not the stream's first object, but no object precedes it (earlier objects are missing)".to_string(),
        };
        check.problem(key, message);
    }
}

/// Every receipt against what was delivered.
fn check_receipts(
    check: &mut StreamCheck,
    receipts: &BTreeMap<String, String>,
    delivered: &BTreeMap<String, String>,
) {
    for (id, sha) in receipts {
        match delivered.get(id) {
            None if check.filter.is_some() => check.receipts_not_in_filtered_stream += 1,
            None => check.problem(
                &format!("receipt {id}"),
                "the event is not in the stream".into(),
            ),
            Some(found) if found != sha => check.problem(
                &format!("receipt {id}"),
                format!("delivered with different content (sha256 {found}, receipt {sha})"),
            ),
            Some(_) => {}
        }
    }
}

pub(crate) fn range(from: u64, to: u64) -> String {
    if from == to {
        from.to_string()
    } else {
        format!("{from}..{to}")
    }
}

#[cfg(test)]
mod tests;
