//! Stream delivery throughput: events per second from the embedded SQLite store to the local
//! webhook receiver and to the `_bulk` receiver of `auditlog_tests::receivers` (each checks its
//! protocol as a real one would: the webhook verifies every signature), through the real
//! delivery pass and HTTP client, at the targets' default batch sizes (500 and 1,000 records).
//! Side by side in one run: the same events, store and pass for both targets, and the v1 and
//! OCSF formats.
//!
//! `scripts/bench-streams.sh` runs this in a release build. Argument: `[events]`, default 20000.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark harness: a panic is a failure

use std::time::{Duration, Instant};

use auditlog_tests::LocalBackend;
use auditlog_tests::receivers::{Protocol, Receiver};
use auditlog_tests::stream_suite::{ingest, new_secret, rig};
use serde_json::json;

async fn run(target: &str, format: &str, events: usize) -> f64 {
    let mut rig = rig(&LocalBackend).await;
    rig.config.budget = Duration::from_secs(600);
    let ids = ingest(rig.store.as_ref(), "bench", "bn", events, |i| {
        format!("doc.{}", ["created", "viewed", "updated"][i % 3])
    })
    .await;
    let (receiver, mut body) = match target {
        "webhook" => {
            let secret = new_secret();
            let receiver = Receiver::start(Protocol::Webhook {
                secret: secret.clone(),
            })
            .await;
            let url = format!("{}/hook", receiver.url);
            let body = json!({"webhook": {"url": url, "secret_file": rig.secret("hook", &secret)}});
            (receiver, body)
        }
        _ => {
            let receiver = Receiver::start(Protocol::Bulk {
                api_key: "bench".into(),
            })
            .await;
            let body = json!({"elasticsearch": {"url": receiver.url, "index": "audit",
                "api_key_file": rig.secret("es", "bench")}});
            (receiver, body)
        }
    };
    body["format"] = json!(format);
    rig.add("bench", body).await;
    let started = Instant::now();
    while receiver.snapshot(|r| r.first_arrivals().len()) < ids.len() {
        rig.pass().await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    assert!(receiver.snapshot(|r| r.violations.is_empty()));
    events as f64 / elapsed
}

#[tokio::main]
async fn main() {
    let events: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    println!("| target | format | events | events/s |");
    println!("| --- | --- | --- | --- |");
    for (target, format) in [
        ("webhook", "v1"),
        ("webhook", "ocsf"),
        ("_bulk", "v1"),
        ("_bulk", "ocsf"),
    ] {
        let rate = run(target, format, events).await;
        println!("| {target} | {format} | {events} | {rate:.0} |");
    }
}
