//! Exactly-once export to a local directory, on the SQLite store: several windows, a crash
//! between write and checkpoint, two exporters at once, late events, a refused write. Every
//! check reads the files back independently (gunzip, parse each line).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::collections::HashMap;
use std::io::Read as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use auditlog_core::Timestamp;
use auditlog_core::export::{Destination, Target};
use auditlog_core::store::{AppendEvents, DestinationStore, ExportStateStore, NewEvent};
use auditlog_core::validate::{IngestContext, Limits, prepare_event};
use auditlog_export::directory::DirectorySink;
use auditlog_export::engine::{SinkFactory, export_destination};
use auditlog_export::sink::{ObjectSink, PutOutcome, SinkError};
use auditlog_export::{ExportConfig, export_pass};
use auditlog_local::SqliteStore;
use serde_json::{Value, json};

const WINDOW: i64 = 60_000;
const GRACE: i64 = 5_000;
const T0: i64 = 1_795_256_100_000; // 2026-11-21T10:15:00Z, a window boundary

fn config(owner: &str) -> ExportConfig {
    ExportConfig {
        window_ms: WINDOW,
        grace_ms: GRACE,
        max_object_bytes: 4096,
        lease_ms: 60_000,
        owner: owner.into(),
        concurrency: 4,
        max_windows_per_pass: 1000,
    }
}

async fn ingest(
    store: &SqliteStore,
    tenant: &str,
    ids: &[String],
    received_at: i64,
    occurred_at: Option<&str>,
) {
    let limits = Limits::default();
    let redactor = auditlog_core::redact::Redactor::default();
    let ctx = IngestContext {
        tenant,
        received_at: Timestamp(received_at),
        limits: &limits,
        redactor: &redactor,
    };
    let events: Vec<NewEvent> = ids
        .iter()
        .map(|id| {
            let mut body = json!({"id": id, "action": "doc.update", "actor": {"id": "u1"}, "metadata": {"pad": "x".repeat(200)}});
            if let Some(at) = occurred_at {
                body["occurred_at"] = json!(at);
            }
            let p = prepare_event(body, "", &ctx, &mut || unreachable!()).unwrap();
            NewEvent { event: p.event, json: p.json, expires_at: Timestamp(received_at + 86_400_000) }
        })
        .collect();
    store
        .append_events(tenant, &events, Timestamp(received_at))
        .await
        .unwrap();
}

fn ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i:04}")).collect()
}

/// Every event line in every object under `root`, by id, with how often it appears.
fn delivered(root: &Path) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.to_string_lossy().ends_with(".ndjson.gz") {
                let mut text = String::new();
                flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap())
                    .read_to_string(&mut text)
                    .unwrap();
                for line in text.lines() {
                    let v: Value = serde_json::from_str(line).unwrap();
                    *counts
                        .entry(v["id"].as_str().unwrap().to_string())
                        .or_insert(0) += 1;
                }
            } else {
                panic!("unexpected file left behind: {}", path.display());
            }
        }
    }
    counts
}

fn assert_exactly_once(root: &Path, expected: &[String]) {
    let got = delivered(root);
    let twice: Vec<_> = got.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    let missing: Vec<_> = expected
        .iter()
        .filter(|id| !got.contains_key(*id))
        .collect();
    assert!(missing.is_empty(), "never delivered: {missing:?}");
    assert_eq!(got.len(), expected.len(), "unexpected extra events");
}

struct Fixture {
    _data: tempfile::TempDir,
    out: tempfile::TempDir,
    store: SqliteStore,
    destination: Destination,
}

async fn fixture() -> Fixture {
    let data = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(data.path()).unwrap();
    let destination = Destination {
        id: "dst_test".into(),
        tenant: "acme".into(),
        target: Target::Directory {
            path: out.path().display().to_string(),
            prefix: "user-events-audit/".into(),
        },
        created_at: Timestamp(T0),
    };
    store.add_destination(&destination).await.unwrap();
    Fixture {
        _data: data,
        out,
        store,
        destination,
    }
}

#[tokio::test]
async fn windows_are_written_once_and_only_when_closed() {
    let f = fixture().await;
    let sink = DirectorySink::new(f.out.path());
    let mut all = Vec::new();
    for w in 0..3 {
        let batch = ids(&format!("w{w}"), 40); // 40 × ~300 B: several 4 KB parts per window
        ingest(&f.store, "acme", &batch, T0 + w * WINDOW + 1_000, None).await;
        all.extend(batch);
    }
    // Another tenant's events never reach this destination.
    ingest(&f.store, "globex", &ids("other", 5), T0 + 1_000, None).await;

    // The third window is still open (its end + grace has not passed): two windows go.
    let now = Timestamp(T0 + 3 * WINDOW + GRACE - 1);
    let report = export_destination(&f.store, &sink, &f.destination, &config("a"), now).await;
    assert_eq!(report.error, None);
    assert_eq!(report.windows, 2);
    assert!(
        report.objects_created > 2,
        "windows split into parts: {report:?}"
    );
    assert_exactly_once(f.out.path(), &all[..80]);

    // Later: the third window closes; the first two are not written again.
    let now = Timestamp(T0 + 3 * WINDOW + GRACE);
    let report = export_destination(&f.store, &sink, &f.destination, &config("a"), now).await;
    assert_eq!(report.windows, 1);
    assert_exactly_once(f.out.path(), &all);
    let state = f.store.export_state("dst_test").await.unwrap();
    assert_eq!(state.events_delivered, 120);
    assert_eq!(state.exported_through, Some(Timestamp(T0 + 3 * WINDOW)));
    assert_eq!(state.lease_owner, None, "the lease is released");

    // Names are the documented layout.
    assert!(f.out.path().join("user-events-audit/tenant=acme/year=2026/month=11/day=21/hour=10/acme_20261121T101500Z_20261121T101600Z_0000.ndjson.gz").exists());
}

/// Writes through, then fails as if the process died before the checkpoint.
struct CrashAfterWrite {
    inner: DirectorySink,
    armed: AtomicBool,
}

#[async_trait]
impl ObjectSink for CrashAfterWrite {
    async fn put_if_absent(
        &self,
        key: &str,
        body: Vec<u8>,
        sha256: [u8; 32],
    ) -> Result<PutOutcome, SinkError> {
        let outcome = self.inner.put_if_absent(key, body, sha256).await?;
        if self.armed.swap(false, Ordering::SeqCst) {
            return Err(SinkError::failed("crash injected after the write"));
        }
        Ok(outcome)
    }
    async fn put_verification(&self, key: &str, body: Vec<u8>) -> Result<(), SinkError> {
        self.inner.put_verification(key, body).await
    }
    fn describe(&self) -> String {
        "crash-after-write".into()
    }
}

#[tokio::test]
async fn a_crash_between_write_and_checkpoint_neither_loses_nor_duplicates() {
    let f = fixture().await;
    let all = ids("c", 30);
    ingest(&f.store, "acme", &all, T0 + 1_000, None).await;
    let now = Timestamp(T0 + WINDOW + GRACE);
    let crashing = CrashAfterWrite {
        inner: DirectorySink::new(f.out.path()),
        armed: AtomicBool::new(true),
    };
    let report = export_destination(&f.store, &crashing, &f.destination, &config("a"), now).await;
    assert!(report.error.as_deref().unwrap().contains("crash injected"));
    let state = f.store.export_state("dst_test").await.unwrap();
    assert_eq!(state.exported_through, None, "the checkpoint did not move");
    assert!(state.last_error.is_some(), "status shows the error");

    // The retry rewrites the same names with the same bytes: accepted as already there.
    let sink = DirectorySink::new(f.out.path());
    let report = export_destination(&f.store, &sink, &f.destination, &config("b"), now).await;
    assert_eq!(report.error, None);
    assert_eq!(report.objects_already_present, 1);
    assert_exactly_once(f.out.path(), &all);
    assert_eq!(
        f.store.export_state("dst_test").await.unwrap().last_error,
        None
    );
}

struct Directories;

#[async_trait]
impl SinkFactory for Directories {
    async fn sink_for(&self, destination: &Destination) -> Result<Arc<dyn ObjectSink>, SinkError> {
        match &destination.target {
            Target::Directory { path, .. } => Ok(Arc::new(DirectorySink::new(path))),
            Target::S3(_) => Err(SinkError::failed("not in this test")),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_exporters_at_once_export_each_window_once() {
    let f = fixture().await;
    let mut all = Vec::new();
    for w in 0..10 {
        let batch = ids(&format!("p{w}"), 20);
        ingest(&f.store, "acme", &batch, T0 + w * WINDOW + 500, None).await;
        all.extend(batch);
    }
    let now = Timestamp(T0 + 10 * WINDOW + GRACE);
    let mut passes = Vec::new();
    for owner in ["x", "y", "z"] {
        let store = f.store.clone();
        passes.push(tokio::spawn(async move {
            export_pass(&store, &Directories, &config(owner), now)
                .await
                .unwrap()
        }));
    }
    let mut created = 0;
    for pass in passes {
        let report = pass.await.unwrap();
        for d in report.destinations {
            assert!(
                d.error.is_none() || d.error.as_deref().unwrap().contains("lease"),
                "{d:?}"
            );
            created += d.objects_created;
        }
    }
    // Whatever the interleaving, a follow-up pass finishes the job; nothing is written twice.
    export_pass(&f.store, &Directories, &config("w"), now)
        .await
        .unwrap();
    assert_exactly_once(f.out.path(), &all);
    assert!(created > 0);
}

#[tokio::test]
async fn late_events_are_exported_once_with_the_window_they_arrive_in() {
    let f = fixture().await;
    let sink = DirectorySink::new(f.out.path());
    let early = ids("early", 5);
    ingest(&f.store, "acme", &early, T0 + 1_000, None).await;
    export_destination(
        &f.store,
        &sink,
        &f.destination,
        &config("a"),
        Timestamp(T0 + WINDOW + GRACE),
    )
    .await;
    // An event that happened inside the exported window, delivered (received) much later.
    let late = ids("late", 3);
    ingest(
        &f.store,
        "acme",
        &late,
        T0 + 5 * WINDOW + 10,
        Some("2026-11-21T10:15:30Z"),
    )
    .await;
    let report = export_destination(
        &f.store,
        &sink,
        &f.destination,
        &config("a"),
        Timestamp(T0 + 6 * WINDOW + GRACE),
    )
    .await;
    assert_eq!(report.windows, 1, "{report:?}");
    let mut expected = early.clone();
    expected.extend(late);
    assert_exactly_once(f.out.path(), &expected);
    // A pass with nothing new writes nothing.
    let again = export_destination(
        &f.store,
        &sink,
        &f.destination,
        &config("a"),
        Timestamp(T0 + 9 * WINDOW),
    )
    .await;
    assert_eq!((again.windows, again.objects_created), (0, 0));
}
