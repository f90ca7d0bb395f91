//! What both ingest benches share: the fixture batch and the encode step.

#![allow(clippy::expect_used, dead_code)]

use std::path::PathBuf;

use auditlog_core::encode::encode_stored_ndjson;
use auditlog_core::ingest::PreparedItem;
use serde_json::Value;

pub fn fixture_events() -> Vec<Value> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    let mut events = Vec::new();
    for name in [
        "valid/full.json",
        "valid/set-password.json",
        "mapped/logger-record.json",
    ] {
        let text = std::fs::read_to_string(dir.join(name)).expect("fixture");
        events.push(serde_json::from_str(&text).expect("fixture json"));
    }
    for name in [
        "mapped/graphql-request-log.ndjson",
        "mapped/idp-events.ndjson",
        "mapped/app-platform-events.ndjson",
    ] {
        let text = std::fs::read_to_string(dir.join(name)).expect("fixture");
        for line in text.lines().filter(|l| !l.is_empty()) {
            events.push(serde_json::from_str(line).expect("fixture json"));
        }
    }
    events
}

/// A 500-event batch body cycling through the fixtures, each with its own id.
pub fn batch_body(events: &[Value], count: usize) -> Vec<u8> {
    let items: Vec<Value> = (0..count)
        .map(|i| {
            let mut e = events[i % events.len()].clone();
            e["id"] = Value::String(format!("bench-{i:06}"));
            e
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({ "events": items })).expect("encode")
}

/// The NDJSON of the valid items, as the store and the exporter would write them.
pub fn encode_valid(prepared: &[PreparedItem], size_hint: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size_hint * 2);
    encode_stored_ndjson(
        prepared.iter().filter_map(|p| match p {
            PreparedItem::Valid(v) => Some(v.json.as_str()),
            PreparedItem::Rejected { .. } => None,
        }),
        &mut out,
    );
    out
}
