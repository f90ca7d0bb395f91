//! The verifier's checks over one stream of exported objects: every line's hash and sequence
//! number, every object's summary and its link to the one before, and, given the ingest
//! receipts, that every delivered event is the one that was accepted. The reader brings the
//! bytes (`auditlog verify`).

use std::collections::BTreeMap;

use super::*;

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
