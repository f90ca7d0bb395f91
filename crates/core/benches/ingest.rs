//! Parse + validate + redact + encode, the CPU path of `POST /v1/events`, over the fixture
//! events (0.3-1.2 KiB each). Criterion prints events per second on one core (`thrpt`).
//!
//! Run: `cargo bench -p auditlog-core --bench ingest`

#![allow(clippy::expect_used)]

use std::path::PathBuf;

use auditlog_core::Timestamp;
use auditlog_core::encode::encode_stored_ndjson;
use auditlog_core::ingest::{PreparedItem, parse_body, prepare_items, prepare_request};
use auditlog_core::redact::Redactor;
use auditlog_core::validate::{IngestContext, Limits};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::Value;

// The allocator the `auditlog` binary (and so the service) runs with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn fixture_events() -> Vec<Value> {
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
fn batch_body(events: &[Value], count: usize) -> Vec<u8> {
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
fn encode_valid(prepared: &[PreparedItem], size_hint: usize) -> Vec<u8> {
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

fn ingest_pipeline(c: &mut Criterion) {
    let events = fixture_events();
    let count = 500;
    let body = batch_body(&events, count);
    let limits = Limits::default();
    let redactor = Redactor::default();
    let mean = body.len() / count;
    let ctx = IngestContext {
        tenant: "bench",
        received_at: Timestamp(1_795_305_600_000),
        limits: &limits,
        redactor: &redactor,
    };
    let mut group = c.benchmark_group(format!("ingest_pipeline/{count}x{mean}B"));
    group.throughput(Throughput::Elements(count as u64));
    group.bench_function("parse+validate+redact+encode", |b| {
        b.iter(|| {
            let prepared =
                prepare_request(&body, &ctx, &mut || String::from("unused")).expect("valid body");
            assert!(prepared.iter().all(|p| matches!(p, PreparedItem::Valid(_))));
            let out = encode_valid(&prepared, body.len());
            assert!(out.len() > body.len() / 2);
            out
        })
    });
    group.bench_function("stage/parse_only", |b| {
        b.iter(|| parse_body(&body, &limits).expect("valid body").1.len())
    });
    group.bench_function("walker_only/parse+validate+redact+encode", |b| {
        b.iter(|| {
            let (shape, items) = parse_body(&body, &limits).expect("valid body");
            let prepared = prepare_items(shape, items, &ctx, &mut || String::from("unused"));
            encode_valid(&prepared, body.len())
        })
    });
    group.bench_function("stage/walker_parse+validate+redact", |b| {
        b.iter(|| {
            let (shape, items) = parse_body(&body, &limits).expect("valid body");
            prepare_items(shape, items, &ctx, &mut || String::from("unused")).len()
        })
    });
    group.finish();
}

criterion_group!(benches, ingest_pipeline);
criterion_main!(benches);
