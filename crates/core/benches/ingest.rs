//! Parse + validate + redact + encode, the CPU path of `POST /v1/events`, over the fixture
//! events (0.3-1.2 KiB each). Criterion prints events per second on one core (`thrpt`).
//!
//! Run: `cargo bench -p auditlog-core --bench ingest`

#![allow(clippy::expect_used)]

mod support;

use auditlog_core::Timestamp;
use auditlog_core::ingest::{PreparedItem, parse_body, prepare_items, prepare_request};
use auditlog_core::redact::Redactor;
use auditlog_core::validate::{IngestContext, Limits};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use support::{batch_body, encode_valid, fixture_events};

// The allocator the `auditlog` binary (and so the service) runs with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
