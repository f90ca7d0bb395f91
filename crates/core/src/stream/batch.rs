//! Records ready to deliver, and how they are cut into requests: consecutive runs, in order,
//! each within the target's published limits on records and bytes per request.

use std::ops::Range;

use crate::time::Timestamp;

/// One event in its destination's format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub id: String,
    pub occurred_at: Timestamp,
    /// The event's `source.service`, which some targets index by.
    pub service: Option<String>,
    /// The record itself: one JSON object.
    pub json: String,
}

/// The most a request may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    pub max_records: usize,
    pub max_bytes: usize,
}

/// A webhook request: receivers are often small services; 500 records and 1 MB keep a request
/// quick to take and within common body-size limits (nginx's default is 1 MB).
pub const WEBHOOK_LIMITS: BatchLimits = BatchLimits {
    max_records: 500,
    max_bytes: 1_000_000,
};

/// Cuts `records` into consecutive runs within `limits`; `size` is how many bytes a record
/// takes in the target's body. A record alone over the byte limit still gets a request of its
/// own (the receiver's answer then says what to do), so nothing is skipped silently.
pub fn batches(
    records: &[Record],
    limits: BatchLimits,
    size: impl Fn(&Record) -> usize,
) -> Vec<Range<usize>> {
    let mut runs = Vec::new();
    let mut start = 0;
    let mut bytes = 0usize;
    for (i, record) in records.iter().enumerate() {
        let this = size(record);
        let full = i - start >= limits.max_records.max(1)
            || (i > start && bytes.saturating_add(this) > limits.max_bytes);
        if full {
            runs.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes = bytes.saturating_add(this);
    }
    if start < records.len() {
        runs.push(start..records.len());
    }
    runs
}

/// A webhook's body: the records as one JSON array.
pub fn json_array(records: &[Record]) -> Vec<u8> {
    let mut body = Vec::with_capacity(records.iter().map(|r| r.json.len() + 1).sum::<usize>() + 2);
    body.push(b'[');
    for (i, record) in records.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(record.json.as_bytes());
    }
    body.push(b']');
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(n: usize, len: usize) -> Record {
        Record {
            id: format!("e{n}"),
            occurred_at: Timestamp(0),
            service: None,
            json: format!("{{\"n\":\"{}\"}}", "x".repeat(len.saturating_sub(8))),
        }
    }

    #[test]
    fn runs_keep_order_and_limits() {
        let records: Vec<Record> = (0..10).map(|n| record(n, 100)).collect();
        let limits = BatchLimits {
            max_records: 4,
            max_bytes: 250,
        };
        let runs = batches(&records, limits, |r| r.json.len());
        assert_eq!(runs, vec![0..2, 2..4, 4..6, 6..8, 8..10]);
        let by_count = batches(
            &records,
            BatchLimits {
                max_records: 4,
                max_bytes: 1 << 20,
            },
            |r| r.json.len(),
        );
        assert_eq!(by_count, vec![0..4, 4..8, 8..10]);
        // A record over the limit travels alone.
        let big = vec![record(0, 10), record(1, 1000), record(2, 10)];
        assert_eq!(
            batches(&big, limits, |r| r.json.len()),
            vec![0..1, 1..2, 2..3]
        );
        assert!(batches(&[], limits, |r| r.json.len()).is_empty());
    }

    #[test]
    fn a_webhook_body_is_a_json_array() {
        let body = json_array(&[record(0, 10), record(1, 10)]);
        let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        assert_eq!(parsed.as_array().map(Vec::len), Some(2));
        assert_eq!(json_array(&[]), b"[]");
    }
}
