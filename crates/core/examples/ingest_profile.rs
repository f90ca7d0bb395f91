//! Runs the ingest CPU path over a 500-event fixture batch N times, for profilers
//! (`valgrind --tool=callgrind target/release/examples/ingest_profile 20`), whose instruction
//! counts are repeatable where wall-clock timings on a shared machine are not.

#![allow(clippy::expect_used)]

use std::path::PathBuf;

use auditlog_core::Timestamp;
use auditlog_core::ingest::prepare_request;
use auditlog_core::redact::Redactor;
use auditlog_core::validate::{IngestContext, Limits};
use serde_json::Value;

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(20);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    let mut events: Vec<Value> = Vec::new();
    for name in [
        "valid/full.json",
        "valid/set-password.json",
        "mapped/logger-record.json",
    ] {
        events.push(
            serde_json::from_str(&std::fs::read_to_string(dir.join(name)).expect("fixture"))
                .expect("json"),
        );
    }
    for name in [
        "mapped/graphql-request-log.ndjson",
        "mapped/idp-events.ndjson",
        "mapped/app-platform-events.ndjson",
    ] {
        for line in std::fs::read_to_string(dir.join(name))
            .expect("fixture")
            .lines()
            .filter(|l| !l.is_empty())
        {
            events.push(serde_json::from_str(line).expect("json"));
        }
    }
    let batch: Vec<Value> = (0..500)
        .map(|i| {
            let mut e = events[i % events.len()].clone();
            e["id"] = Value::String(format!("bench-{i:06}"));
            e
        })
        .collect();
    let body = serde_json::to_vec(&serde_json::json!({ "events": batch })).expect("encode");
    let (limits, redactor) = (Limits::default(), Redactor::default());
    let ctx = IngestContext {
        tenant: "bench",
        received_at: Timestamp(1_795_305_600_000),
        limits: &limits,
        redactor: &redactor,
    };
    let mut total = 0;
    for _ in 0..runs {
        total += prepare_request(&body, &ctx, &mut || String::from("unused"))
            .expect("valid")
            .len();
    }
    println!("{total} events");
}
