//! Export figures (`scripts/bench-export.sh` runs this in release):
//!
//! - `encode N`: NDJSON + gzip (default level) + SHA-256 of N stored events, the exporter's CPU
//!   path, on one thread: events per second per core; then the same with zstd (level 3).
//! - `prepare DIR N`: a SQLite store in DIR with N events (the fixture events, ~450 B each)
//!   received over the last hours, and two directory destinations: gzip and zstd.
//! - `add-azure DIR ENDPOINT CONTAINER KEY_FILE`: adds an Azure destination (the Azurite
//!   emulator's account at ENDPOINT, a shared key read from KEY_FILE) beside the directory.
//! - `export DIR [KIND]`: exports every destination of that store (or those of KIND: `directory`,
//!   `azure`) one after the other, at the default settings, timing each; prints each one's
//!   figures and the process's peak RSS (VmHWM), which covers only the export.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a benchmark: a panic is a failed run

use std::path::{Path, PathBuf};
use std::time::Instant;

use async_trait::async_trait;
use auditlog_core::Timestamp;
use auditlog_core::export::{Compression, Destination, ExportConfig, Target};
use auditlog_core::redact::Redactor;
use auditlog_core::self_audit::{Caller, SelfAction, SelfEvent};
use auditlog_core::store::{AppendEvents, DestinationStore, ExportStore, NewEvent};
use auditlog_core::validate::{IngestContext, Limits, prepare_event};
use auditlog_export::directory::DirectorySink;
use auditlog_export::engine::SinkFactory;
use auditlog_export::parts::PartEncoder;
use auditlog_export::sink::{ObjectSink, SinkError};
use auditlog_local::SqliteStore;
use serde_json::Value;

fn fixture_events() -> Vec<Value> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/mapped");
    let mut events = Vec::new();
    for name in [
        "graphql-request-log.ndjson",
        "idp-events.ndjson",
        "app-platform-events.ndjson",
    ] {
        let text = std::fs::read_to_string(dir.join(name)).expect("fixture");
        events.extend(
            text.lines()
                .filter(|l| !l.is_empty())
                .map(|l| serde_json::from_str::<Value>(l).expect("fixture json")),
        );
    }
    events
}

/// Stored events (as the store holds them) numbered `range`, cycling through the fixtures.
fn stored_events(
    range: std::ops::Range<usize>,
    received_at: impl Fn(usize) -> i64,
) -> Vec<NewEvent> {
    let fixtures = fixture_events();
    let limits = Limits::default();
    let redactor = Redactor::default();
    range
        .map(|i| {
            let ctx = IngestContext {
                tenant: "bench",
                received_at: Timestamp(received_at(i)),
                limits: &limits,
                redactor: &redactor,
            };
            let mut event = fixtures[i % fixtures.len()].clone();
            event["id"] = Value::String(format!("bench-{i:08}"));
            event.as_object_mut().unwrap().remove("occurred_at");
            // Vary what varies in real traffic (who, from where, which request), so that gzip
            // is not flattered by thousands of identical lines.
            let h = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            event["actor"]["id"] = Value::String(format!("user-{}", h % 50_000));
            event["metadata"] = serde_json::json!({"session": format!("{:x}", h >> 20)});
            event["context"] = serde_json::json!({
                "ip_address": format!("{}.{}.{}.{}", 10 + h % 200, (h >> 8) % 256, (h >> 16) % 256, (h >> 24) % 256),
                "request_id": format!("{h:016x}{:016x}", h.rotate_left(17)),
            });
            let prepared = prepare_event(event, "", &ctx, &mut || unreachable!()).expect("valid");
            NewEvent::prepared(prepared, Timestamp(received_at(i) + 90 * 86_400_000))
        })
        .collect()
}

/// Both ways side by side: copying the receipts stored at ingest (what the exporter does), and
/// computing each one again (what it did before receipts were stored, and still does for events
/// stored without one).
fn encode(count: usize) {
    let events = stored_events(0..count, |_| 1_795_305_600_000);
    encode_with(&events, "receipt copied", Compression::Gzip, |e| {
        e.receipt.as_deref()
    });
    encode_with(
        &events,
        "receipt (JCS + sha256) recomputed",
        Compression::Gzip,
        |_| None,
    );
    encode_with(&events, "receipt copied", Compression::Zstd, |e| {
        e.receipt.as_deref()
    });
}

fn encode_with(
    events: &[NewEvent],
    name: &str,
    compression: Compression,
    stored: impl Fn(&NewEvent) -> Option<&str>,
) {
    let count = events.len();
    let bytes: usize = events.iter().map(|e| e.json.len() + 1).sum();
    let start = Instant::now();
    let mut encoder = PartEncoder::new(64 * 1024 * 1024, compression, 0, None);
    let mut compressed = 0;
    for e in events {
        match encoder.push(&e.json, stored(e)) {
            Ok(Some(part)) => compressed += part.body.len(),
            Ok(None) => {}
            Err(error) => panic!("the benchmark's events are JSON objects: {error}"),
        }
    }
    match encoder.finish() {
        Ok(part) => compressed += part.map(|p| p.body.len()).unwrap_or(0),
        Err(error) => panic!("the benchmark's events are JSON objects: {error}"),
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{name} + line + {} + sha256: {count} events ({} B mean) in {seconds:.2}s = {:.0} events/s on one core, {:.1} MB/s of NDJSON, compressed to {:.1}%",
        compression.as_str(),
        bytes / count,
        count as f64 / seconds,
        bytes as f64 / seconds / 1e6,
        100.0 * compressed as f64 / bytes as f64
    );
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn prepare(dir: &Path, count: usize) {
    let store = SqliteStore::open(&dir.join("data")).unwrap();
    // Spread over the three hours before the last closed window: 36 windows of 5 minutes.
    let end = now_ms() - 15 * 60_000;
    let span = 3 * 3_600_000;
    let start = Instant::now();
    for first in (0..count).step_by(10_000) {
        let events = stored_events(first..(first + 10_000).min(count), |i| {
            end - span + (i as i64 * span / count as i64)
        });
        store
            .append_events("bench", &events, Timestamp(end))
            .await
            .unwrap();
    }
    let destination = Destination::new(
        "dst_bench".into(),
        "bench".into(),
        Target::Directory {
            path: dir.join("out").display().to_string(),
            prefix: "user-events-audit/".into(),
        },
        Timestamp(end),
    );
    add_destination(&store, &destination, "01BENCHDESTINATIONADDED000", end).await;
    let zstd = Destination {
        id: "dst_bench_zstd".into(),
        target: Target::Directory {
            path: dir.join("out-zstd").display().to_string(),
            prefix: "user-events-audit/".into(),
        },
        compression: Compression::Zstd,
        ..destination
    };
    add_destination(&store, &zstd, "01BENCHZSTDDESTINATIONADDE", end).await;
    println!(
        "prepared {count} events in {:.1}s",
        start.elapsed().as_secs_f64()
    );
}

struct BenchSinks;

#[async_trait]
impl SinkFactory for BenchSinks {
    async fn sink_for(
        &self,
        destination: &Destination,
    ) -> Result<std::sync::Arc<dyn ObjectSink>, SinkError> {
        match &destination.target {
            Target::Directory { path, .. } => Ok(std::sync::Arc::new(DirectorySink::new(path))),
            #[cfg(feature = "azure")]
            Target::Azure(target) => Ok(std::sync::Arc::new(
                auditlog_export::azure::AzureSink::new(target)?,
            )),
            _ => Err(SinkError::failed(
                "directories and Azure only in this benchmark",
            )),
        }
    }
}

fn kind(target: &Target) -> &'static str {
    match target {
        Target::Directory { .. } => "directory",
        Target::Azure(_) => "azure",
        Target::S3(_) => "s3",
        Target::Stream(_) => "stream",
    }
}

async fn add_azure(dir: &Path, endpoint: &str, container: &str, key_file: &str) {
    let store = SqliteStore::open(&dir.join("data")).unwrap();
    let destination = Destination::new(
        "dst_bench_azure".into(),
        "bench".into(),
        Target::Azure(auditlog_core::export::AzureTarget {
            account: "devstoreaccount1".into(),
            container: container.into(),
            prefix: "user-events-audit/".into(),
            endpoint: Some(endpoint.into()),
            credential: auditlog_core::export::AzureCredential::SharedKey {
                key: auditlog_core::export::SecretRef::File(key_file.into()),
            },
        }),
        Timestamp(now_ms()),
    );
    add_destination(&store, &destination, "01BENCHAZUREDESTINATIONADD", now_ms()).await;
}

/// Registers `destination` with its `auditlog.` record, received an hour after `after`: outside
/// every window the bench exports.
async fn add_destination(
    store: &SqliteStore,
    destination: &Destination,
    record_id: &str,
    after: i64,
) {
    let caller = Caller::Operator {
        user: "bench".into(),
        host: "localhost".into(),
    };
    let record = SelfEvent::new(SelfAction::DestinationAdded, caller)
        .destination(destination)
        .into_event(
            "bench",
            record_id.into(),
            Timestamp(after + 3_600_000),
            86_400_000,
        );
    store.add_destination(destination, &record).await.unwrap();
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

async fn export(dir: &Path, only: Option<&str>) {
    let store = SqliteStore::open(&dir.join("data")).unwrap();
    let config = ExportConfig {
        window_ms: 5 * 60_000,
        grace_ms: 2 * 60_000,
        max_object_bytes: 64 * 1024 * 1024,
        lease_ms: 600_000,
        owner: "bench".into(),
        concurrency: 4,
        max_windows_per_pass: 1000,
        digest_period_ms: 3_600_000,
    };
    let store_ref: &dyn ExportStore = &store;
    let destinations = store.list_destinations(None).await.unwrap();
    for destination in destinations
        .iter()
        .filter(|d| only.is_none_or(|k| k == kind(&d.target)))
    {
        let sink = BenchSinks.sink_for(destination).await.unwrap();
        let start = Instant::now();
        let d = auditlog_export::export_destination(
            store_ref,
            sink.as_ref(),
            destination,
            &config,
            Timestamp(now_ms()),
        )
        .await;
        let seconds = start.elapsed().as_secs_f64();
        println!(
            "export to {:<9} ({}): {} events, {} windows, {} objects in {seconds:.1}s ({:.0} events/s, {:.1} objects/s, SQLite reads included); error: {:?}",
            kind(&destination.target),
            destination.compression.as_str(),
            d.events,
            d.windows,
            d.objects_created,
            d.events as f64 / seconds,
            d.objects_created as f64 / seconds,
            d.error
        );
    }
    println!(
        "peak RSS of the process: {:.1} MiB",
        peak_rss_kib() as f64 / 1024.0
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("encode") => encode(args.get(2).and_then(|n| n.parse().ok()).unwrap_or(200_000)),
        Some("prepare") => {
            prepare(
                Path::new(&args[2]),
                args.get(3)
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(1_000_000),
            )
            .await
        }
        Some("add-azure") => add_azure(Path::new(&args[2]), &args[3], &args[4], &args[5]).await,
        Some("export") => export(Path::new(&args[2]), args.get(3).map(String::as_str)).await,
        _ => eprintln!(
            "usage: export_bench encode [N] | prepare DIR [N] | add-azure DIR ENDPOINT CONTAINER KEY_FILE | export DIR [directory|azure]"
        ),
    }
}
