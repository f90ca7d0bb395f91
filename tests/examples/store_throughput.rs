//! Batched ingest throughput over HTTP, on the embedded SQLite store and on DynamoDB (DynamoDB
//! Local in development): the same router, the same requests, one store at a time. DynamoDB Local
//! is an emulator, so its absolute figure means little; the ratio to SQLite is what is reported.
//!
//! `scripts/bench-stores.sh` starts DynamoDB Local and runs this.
//! Arguments: `[events] [batch] [concurrent requests]`, default 20000 500 4.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark harness: a panic is a failure

use std::time::Instant;

use auditlog_tests::{Backend, DynamoBackend, LocalBackend, TestService};
use futures::StreamExt as _;
use serde_json::json;

async fn run(
    name: &str,
    backend: &dyn Backend,
    events: usize,
    batch: usize,
    concurrency: usize,
) -> f64 {
    let service = TestService::start(backend).await;
    let key = service.key("bench", "write").await;
    let bodies: Vec<serde_json::Value> = (0..events.div_ceil(batch))
        .map(|b| {
            let events: Vec<_> = (0..batch)
                .map(|i| {
                    json!({
                        "id": format!("{name}-{b}-{i}"),
                        "action": "document.update",
                        "actor": {"id": format!("user-{}", i % 50), "email": "ada@example.com"},
                        "targets": [{"type": "document", "id": format!("doc-{}", i % 200)}],
                        "context": {"ip_address": "203.0.113.24", "user_agent": "bench/1.0"},
                        "metadata": {"fields": ["title", "body"], "revision": i}
                    })
                })
                .collect();
            json!({ "events": events })
        })
        .collect();
    let started = Instant::now();
    let stored: usize = futures::stream::iter(bodies.iter())
        .map(|body| {
            let service = &service;
            let key = &key;
            async move {
                let (status, answer) = service.post_events(key, body).await;
                assert_eq!(status, 201, "{answer}");
                answer["accepted"].as_u64().unwrap() as usize
            }
        })
        .buffer_unordered(concurrency)
        .fold(0, |sum, n| async move { sum + n })
        .await;
    let seconds = started.elapsed().as_secs_f64();
    let rate = stored as f64 / seconds;
    println!(
        "{name:>8}: {stored} events in {seconds:.2}s = {rate:.0} events/s ({batch}-event batches, {concurrency} requests at a time)"
    );
    rate
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("numbers: events batch concurrency"))
        .collect();
    let events = args.first().copied().unwrap_or(20_000);
    let batch = args.get(1).copied().unwrap_or(500);
    let concurrency = args.get(2).copied().unwrap_or(4);
    let sqlite = run("sqlite", &LocalBackend, events, batch, concurrency).await;
    let dynamodb = run("dynamodb", &DynamoBackend, events, batch, concurrency).await;
    println!(
        "ratio: DynamoDB Local reaches {:.2}x the SQLite rate",
        dynamodb / sqlite
    );
}
