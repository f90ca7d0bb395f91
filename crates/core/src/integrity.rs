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
    hex::encode(Sha256::digest(bytes))
}

fn canonical_bytes(object: &Map<String, Value>) -> Result<Vec<u8>, IntegrityError> {
    let mut out = Vec::with_capacity(512);
    write_canonical_object(object, &mut out)?;
    Ok(out)
}

/// Appends the RFC 8785 (JCS) form of `value`. The walk is ours, for speed (every exported
/// line is hashed; `serde_jcs` alone cost several times the rest of the export): members are
/// sorted by their UTF-16 code units, strings are escaped by serde_json (whose escapes are
/// exactly JCS's: `\"`, `\\`, the short forms of \b \t \n \f \r, `\u00xx` in lowercase
/// for the other control characters, nothing else), and integers of magnitude at most 2^53 are
/// written as they are. Every other number (fractions, exponents, larger integers) is written by
/// `serde_jcs`, which formats it as ECMAScript does. A property test checks the whole against
/// `serde_jcs`.
pub fn write_canonical(value: &Value, out: &mut Vec<u8>) -> Result<(), IntegrityError> {
    const SAFE_INTEGER: u64 = 1 << 53;
    let failed = |e: serde_json::Error| IntegrityError::Canonical(e.to_string());
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            if let Some(i) = n.as_i64().filter(|i| i.unsigned_abs() <= SAFE_INTEGER) {
                out.extend_from_slice(i.to_string().as_bytes());
            } else if let Some(u) = n.as_u64().filter(|u| *u <= SAFE_INTEGER) {
                out.extend_from_slice(u.to_string().as_bytes());
            } else {
                out.extend(serde_jcs::to_vec(n).map_err(failed)?);
            }
        }
        Value::String(text) => serde_json::to_writer(&mut *out, text).map_err(failed)?,
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

fn write_canonical_object(
    map: &Map<String, Value>,
    out: &mut Vec<u8>,
) -> Result<(), IntegrityError> {
    // Sorted here whatever the map's own order (serde_json's `preserve_order` keeps insertion
    // order, and its sorted order is by UTF-8 bytes, which differs from UTF-16 beyond U+FFFF).
    let mut members: Vec<(&String, &Value)> = map.iter().collect();
    members.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
    out.push(b'{');
    for (i, (key, value)) in members.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut *out, key)
            .map_err(|e| IntegrityError::Canonical(e.to_string()))?;
        out.push(b':');
        write_canonical(value, out)?;
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
}

/// The `integrity` member of one exported line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineIntegrity {
    /// Position in the destination's stream: contiguous from 1, assigned at export.
    pub seq: u64,
    /// The event's receipt.
    pub sha256: String,
    /// On the last line of each object only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectSummary>,
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
            Err(e) => check.problem(key, format!("cannot be read: {e} (truncated or not gzip)")),
            Ok(text) => {
                let lines = check_lines(&mut check, &mut walk, key, text);
                match lines.last.as_ref().and_then(|l| l.object.as_ref()) {
                    None => check.problem(
                        key,
                        "the last line carries no object summary (truncated, or lines removed at the end)"
                            .into(),
                    ),
                    Some(summary) => {
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
        if let Some(id) = &parsed.id {
            walk.delivered
                .insert(id.clone(), parsed.actual_sha256.clone());
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
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn event(n: u64) -> String {
        format!(
            "{{\"id\":\"ev-{n}\",\"tenant\":\"acme\",\"action\":\"user.login\",\"actor\":{{\"id\":\"u{n}\",\"type\":\"user\"}},\"metadata\":{{\"z\":1.5,\"a\":\"é\\u0001\"}}}}"
        )
    }

    /// A stream of `sizes.len()` objects holding that many events each, as the exporter writes
    /// it (the object's "stored bytes" here are its text; the checks only compare hashes).
    fn stream(sizes: &[u64]) -> Vec<ObjectContent> {
        let mut seq = 0;
        let mut previous: Option<String> = None;
        let mut objects = Vec::new();
        for (i, size) in sizes.iter().enumerate() {
            let first = seq + 1;
            let mut text = String::new();
            for k in 0..*size {
                seq += 1;
                let stored = event(seq);
                let object = (k + 1 == *size).then(|| ObjectSummary {
                    first_seq: first,
                    last_seq: seq,
                    count: *size,
                    previous_object_sha256: previous.clone(),
                });
                let integrity = LineIntegrity {
                    seq,
                    sha256: receipt(&stored).unwrap(),
                    object,
                };
                text.push_str(&export_line(&stored, &integrity).unwrap());
                text.push('\n');
            }
            let sha256 = sha256_hex(text.as_bytes());
            previous = Some(sha256.clone());
            objects.push(ObjectContent {
                key: format!("p/tenant=acme/acme_{i:04}.ndjson.gz"),
                sha256,
                text: Ok(text),
            });
        }
        objects
    }

    /// Recomputes an object's hash after its text changed (as a forger would).
    fn rehash(object: &mut ObjectContent) {
        object.sha256 = sha256_hex(object.text.as_ref().unwrap().as_bytes());
    }

    fn messages(check: &StreamCheck) -> Vec<String> {
        check
            .problems
            .iter()
            .map(|p| format!("{}: {}", p.at, p.message))
            .collect()
    }

    fn check(objects: &[ObjectContent]) -> StreamCheck {
        check_stream(objects, StreamStart::Beginning, &BTreeMap::new())
    }

    #[test]
    fn the_receipt_is_the_sha256_of_the_jcs_form() {
        let stored = "{\"b\": 1, \"a\": \"x\\u00e9\", \"n\": 1.0e2}";
        assert_eq!(
            receipt(stored).unwrap(),
            sha256_hex("{\"a\":\"xé\",\"b\":1,\"n\":100}".as_bytes())
        );
        assert_eq!(receipt("[1]"), Err(IntegrityError::NotAnObject));
        assert_eq!(
            receipt("{\"integrity\":1}"),
            Err(IntegrityError::ReservedMember)
        );
    }

    #[test]
    fn an_export_line_keeps_the_stored_bytes_and_parses_back() {
        let stored = event(7);
        let integrity = LineIntegrity {
            seq: 7,
            sha256: receipt(&stored).unwrap(),
            object: None,
        };
        let line = export_line(&stored, &integrity).unwrap();
        assert!(line.starts_with(&stored[..stored.len() - 1]), "{line}");
        let parsed = parse_line(&line).unwrap();
        assert_eq!(parsed.integrity, integrity);
        assert_eq!(parsed.actual_sha256, integrity.sha256);
        assert_eq!(parsed.id.as_deref(), Some("ev-7"));
        // An empty object gets no stray comma.
        assert_eq!(
            export_line("{}", &integrity).unwrap(),
            format!(
                "{{\"integrity\":{}}}",
                serde_json::to_string(&integrity).unwrap()
            )
        );
    }

    #[test]
    fn an_untouched_stream_passes_and_says_where_it_ends() {
        let objects = stream(&[3, 1, 4]);
        let result = check(&objects);
        assert_eq!(messages(&result), Vec::<String>::new());
        assert_eq!(result.events, 8);
        assert_eq!(result.last_seq, Some(8));
        assert_eq!(
            result.last_object_sha256.as_deref(),
            Some(objects[2].sha256.as_str())
        );
    }

    #[test]
    fn a_modified_line_is_named() {
        let mut objects = stream(&[2, 2]);
        let text = objects[1].text.as_mut().unwrap();
        *text = text.replacen("user.login", "user.logout", 1);
        rehash(&mut objects[1]);
        assert_eq!(
            messages(&check(&objects)),
            [
                "p/tenant=acme/acme_0001.ndjson.gz: line 1 (seq 3): the event does not hash to its sha256 (modified)"
            ]
        );
    }

    #[test]
    fn a_deleted_object_shows_as_missing_sequence_numbers_and_a_broken_link() {
        let mut objects = stream(&[2, 3, 1]);
        objects.remove(1);
        assert_eq!(
            messages(&check(&objects)),
            [
                "p/tenant=acme/acme_0002.ndjson.gz: sequence numbers 3..5 missing before line 1 (seq 6)",
                "p/tenant=acme/acme_0002.ndjson.gz: does not follow p/tenant=acme/acme_0000.ndjson.gz: its previous-object hash differs (an object between them is missing, or one of them was replaced)",
            ]
        );
    }

    #[test]
    fn a_truncated_object_has_no_summary() {
        let mut objects = stream(&[3, 1]);
        let text = objects[0].text.as_mut().unwrap();
        let cut: String = text.lines().take(2).map(|l| format!("{l}\n")).collect();
        *text = cut;
        rehash(&mut objects[0]);
        let found = messages(&check(&objects));
        assert!(
            found.contains(&"p/tenant=acme/acme_0000.ndjson.gz: the last line carries no object summary (truncated, or lines removed at the end)".to_string()),
            "{found:?}"
        );
        // The next object no longer links to the truncated one.
        assert!(
            found
                .iter()
                .any(|m| m.contains("acme_0001") && m.contains("does not follow")),
            "{found:?}"
        );
        // Unreadable bytes (a cut gzip stream) are named too.
        objects[0].text = Err("unexpected end of file".into());
        assert!(messages(&check(&objects))[0].contains("cannot be read: unexpected end of file"));
    }

    #[test]
    fn reordered_objects_and_a_forged_insert_are_caught() {
        let mut objects = stream(&[2, 2, 2]);
        objects.swap(0, 1);
        let found = messages(&check(&objects));
        assert!(
            found
                .iter()
                .any(|m| m.contains("sequence numbers 1..2 missing")),
            "{found:?}"
        );
        assert!(
            found.iter().any(|m| m.contains("expected 5 (reordered")),
            "{found:?}"
        );

        // A forged object, internally consistent, slipped in between two real ones.
        let mut objects = stream(&[2, 2]);
        let mut forged = stream(&[2]).remove(0);
        forged.key = "p/tenant=acme/acme_0000a.ndjson.gz".into();
        objects.insert(1, forged);
        let found = messages(&check(&objects));
        assert!(
            found.iter().any(|m| m
                .starts_with("p/tenant=acme/acme_0000a.ndjson.gz: line 1 has seq 1, expected 3")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|m| m.starts_with("p/tenant=acme/acme_0000a.ndjson.gz: does not follow")),
            "{found:?}"
        );
    }

    #[test]
    fn a_pruned_start_is_accepted_only_when_asked() {
        let mut objects = stream(&[2, 2, 2]);
        objects.remove(0);
        assert!(!check(&objects).problems.is_empty());
        let pruned = check_stream(&objects, StreamStart::FirstPresent, &BTreeMap::new());
        assert_eq!(messages(&pruned), Vec::<String>::new());
        assert_eq!(pruned.last_seq, Some(6));
    }

    #[test]
    fn receipts_must_be_delivered_unchanged() {
        let objects = stream(&[2]);
        let mut receipts = BTreeMap::new();
        receipts.insert("ev-1".to_string(), receipt(&event(1)).unwrap());
        receipts.insert("ev-2".to_string(), sha256_hex(b"something else"));
        receipts.insert("ev-9".to_string(), receipt(&event(9)).unwrap());
        let found = messages(&check_stream(&objects, StreamStart::Beginning, &receipts));
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with("receipt ev-2: delivered with different content"));
        assert_eq!(found[1], "receipt ev-9: the event is not in the stream");
    }

    mod canonical {
        use proptest::prelude::*;

        use super::*;

        fn json() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(Value::from),
                any::<u64>().prop_map(Value::from),
                any::<f64>()
                    .prop_filter("finite", |f| f.is_finite())
                    .prop_map(Value::from),
                (-1_000_000i64..1_000_000, 0u32..6)
                    .prop_map(|(m, e)| Value::from(m as f64 / 10f64.powi(e as i32))),
                any::<String>().prop_map(Value::String),
                "[\\x00-\\x7f\u{e000}-\u{e0ff}\u{10000}-\u{10100}]{0,6}".prop_map(Value::String),
            ];
            leaf.prop_recursive(3, 40, 6, |inner| {
                prop_oneof![
                    proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                    proptest::collection::vec(
                        (
                            prop_oneof![
                                any::<String>(),
                                "[a-z\u{e000}-\u{e0ff}\u{10000}-\u{10100}]{0,3}"
                            ],
                            inner
                        ),
                        0..6
                    )
                    .prop_map(|members| Value::Object(members.into_iter().collect())),
                ]
            })
        }

        proptest! {
            /// Our walk writes exactly what `serde_jcs` writes, for any JSON.
            #[test]
            fn the_canonical_form_is_serde_jcs_s(value in json()) {
                let mut ours = Vec::new();
                write_canonical(&value, &mut ours).unwrap();
                prop_assert_eq!(
                    String::from_utf8(ours).unwrap(),
                    String::from_utf8(serde_jcs::to_vec(&value).unwrap()).unwrap()
                );
            }
        }
    }

    mod tampering {
        use proptest::prelude::*;

        use super::*;

        /// One way to tamper with a stream of at least two objects. Deleting the newest object
        /// is not here: only the signed digests reveal it.
        #[derive(Debug, Clone)]
        enum Tamper {
            /// Change one character of one line's event (and rehash the object, as a forger
            /// would, so only the line hash can tell).
            ModifyLine {
                object: usize,
                line: usize,
                at: usize,
            },
            DeleteObject {
                object: usize,
            },
            SwapObjects {
                a: usize,
                b: usize,
            },
            DuplicateObject {
                object: usize,
            },
            DropLastLines {
                object: usize,
                keep: usize,
            },
            DropLine {
                object: usize,
                line: usize,
            },
            SwapLines {
                object: usize,
            },
            InsertForged {
                at: usize,
            },
        }

        fn tamper() -> impl Strategy<Value = Tamper> {
            prop_oneof![
                (any::<usize>(), any::<usize>(), any::<usize>())
                    .prop_map(|(object, line, at)| Tamper::ModifyLine { object, line, at }),
                any::<usize>().prop_map(|object| Tamper::DeleteObject { object }),
                (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Tamper::SwapObjects { a, b }),
                any::<usize>().prop_map(|object| Tamper::DuplicateObject { object }),
                (any::<usize>(), any::<usize>())
                    .prop_map(|(object, keep)| Tamper::DropLastLines { object, keep }),
                (any::<usize>(), any::<usize>())
                    .prop_map(|(object, line)| Tamper::DropLine { object, line }),
                any::<usize>().prop_map(|object| Tamper::SwapLines { object }),
                any::<usize>().prop_map(|at| Tamper::InsertForged { at }),
            ]
        }

        fn lines_of(object: &ObjectContent) -> Vec<String> {
            object
                .text
                .as_ref()
                .unwrap()
                .lines()
                .map(|l| format!("{l}\n"))
                .collect()
        }

        fn set_lines(object: &mut ObjectContent, lines: &[String]) {
            object.text = Ok(lines.concat());
            rehash(object);
        }

        /// Applies `t`; `false` when it changes nothing (a no-op is not a tampering).
        fn apply(objects: &mut Vec<ObjectContent>, t: &Tamper) -> bool {
            let n = objects.len();
            match *t {
                Tamper::ModifyLine { object, line, at } => {
                    let o = &mut objects[object % n];
                    let mut lines = lines_of(o);
                    let l = line % lines.len();
                    // Change a character of the event's own part (before `"integrity"`).
                    let event_end = lines[l].find(",\"integrity\"").unwrap();
                    let candidates: Vec<usize> = lines[l][..event_end]
                        .char_indices()
                        .filter(|(_, c)| c.is_ascii_alphanumeric())
                        .map(|(i, _)| i)
                        .collect();
                    let i = candidates[at % candidates.len()];
                    let old = lines[l].as_bytes()[i];
                    let new = if old == b'x' { "y" } else { "x" };
                    lines[l].replace_range(i..i + 1, new);
                    set_lines(o, &lines);
                }
                Tamper::DeleteObject { object } => {
                    // Any but the newest.
                    objects.remove(object % (n - 1));
                }
                Tamper::SwapObjects { a, b } => {
                    let (a, b) = (a % n, b % n);
                    if a == b {
                        return false;
                    }
                    let key_a = objects[a].key.clone();
                    let key_b = objects[b].key.clone();
                    objects.swap(a, b);
                    objects[a].key = key_a;
                    objects[b].key = key_b;
                }
                Tamper::DuplicateObject { object } => {
                    let mut copy = objects[object % n].clone();
                    copy.key.push_str(".copy");
                    objects.insert(object % n + 1, copy);
                }
                Tamper::DropLastLines { object, keep } => {
                    let o = &mut objects[object % n];
                    let lines = lines_of(o);
                    set_lines(o, &lines[..keep % lines.len()]);
                }
                Tamper::DropLine { object, line } => {
                    let o = &mut objects[object % n];
                    let mut lines = lines_of(o);
                    if lines.len() < 2 {
                        return false;
                    }
                    lines.remove(line % (lines.len() - 1));
                    set_lines(o, &lines);
                }
                Tamper::SwapLines { object } => {
                    let o = &mut objects[object % n];
                    let mut lines = lines_of(o);
                    if lines.len() < 2 {
                        return false;
                    }
                    lines.swap(0, 1);
                    set_lines(o, &lines);
                }
                Tamper::InsertForged { at } => {
                    // A well-formed object from another stream of the same shape.
                    let mut forged = stream(&[2]).remove(0);
                    forged.key = format!("p/tenant=acme/forged_{at}.ndjson.gz");
                    objects.insert(at % (n + 1), forged);
                }
            }
            true
        }

        proptest! {
            #[test]
            fn no_tampering_passes(
                sizes in proptest::collection::vec(1u64..5, 2..6),
                tampering in tamper(),
            ) {
                let mut objects = stream(&sizes);
                prop_assert!(check(&objects).problems.is_empty());
                prop_assume!(apply(&mut objects, &tampering));
                let found = check(&objects);
                prop_assert!(!found.problems.is_empty(), "{:?} passed", tampering);
            }
        }
    }
}
