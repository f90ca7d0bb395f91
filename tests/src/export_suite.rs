//! The exactly-once export behaviours, written once and run on every destination kind:
//! a local directory (on SQLite, as local mode runs) and S3 on moto_server through an assumed
//! role (on DynamoDB Local, as the export function runs). Every check reads what was delivered
//! back independently: gunzip of the files, or boto3 + gunzip for S3 (`tests/support/aws_check.py`).
//! The rigs themselves are in `export_rigs` (re-exported here).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use auditlog_core::Timestamp;
use auditlog_core::digest::DigestFile;
use auditlog_core::export::{Destination, ExportState, Target, machine};
use auditlog_core::integrity::{ObjectContent, StreamStart, check_stream, receipt};
use auditlog_core::self_audit::{SelfAction, SelfEvent};
use auditlog_core::store::{AppendEvents, NewEvent, ServiceStore};
use auditlog_core::validate::{IngestContext, Limits, prepare_event};
use auditlog_export::engine::{SinkFactory, export_destination};
use auditlog_export::sink::{Creation, ObjectSink, SinkError};
use auditlog_export::{ExportConfig, export_pass};
use serde_json::json;

pub use crate::digest_suite::digests_are_signed_chained_and_name_every_tampering;
pub use crate::export_rigs::*;

pub const WINDOW: i64 = 60_000;
pub const GRACE: i64 = 5_000;
/// Digest period in the suite: five windows.
pub const PERIOD: i64 = 5 * WINDOW;

/// What was delivered, read back without our code.
#[derive(Debug, Default)]
pub struct Delivered {
    /// Event id → how many lines carry it.
    pub ids: HashMap<String, usize>,
    /// Every object key under the destination's root.
    pub keys: Vec<String>,
    /// Every exported object (`.ndjson.gz` or `.ndjson.zst`), in key order, as the verifier
    /// reads it.
    pub objects: Vec<ObjectContent>,
    /// Every digest (`*_digest.json`, beside the objects' prefix), in key order.
    pub digests: Vec<DigestFile>,
}

/// Read, write and delete access to what a rig's destination holds, by key: how the tamper
/// tests damage it (files for a directory; boto3 for S3, not our SDK code).
pub trait RigFiles: Send + Sync {
    fn read(&self, key: &str) -> Vec<u8>;
    fn write(&self, key: &str, bytes: &[u8]);
    fn delete(&self, key: &str);
}

/// One destination, ready to export to, with an independent reader of what landed.
pub struct ExportRig {
    pub store: Arc<dyn ServiceStore>,
    pub destination: Destination,
    pub sinks: Arc<dyn SinkFactory>,
    pub reader: Box<dyn Fn() -> Delivered + Send + Sync>,
    /// Every HTTP request the S3 clients sent (empty for directories).
    pub requests: Arc<Mutex<Vec<RecordedRequest>>>,
    /// A digest period boundary about an hour before now: the events' receive times start here.
    pub t0: i64,
    /// What `auditlog verify` is given: the directory, `s3://bucket/prefix`, or
    /// `azure://account/container/prefix` and the flags that say how to reach it.
    pub location: Vec<String>,
    pub files: Arc<dyn RigFiles>,
    pub _guard: Box<dyn std::any::Any + Send>,
}

impl ExportRig {
    /// The bucket an S3 destination writes to (empty for others).
    pub fn destination_bucket(&self) -> String {
        match &self.destination.target {
            Target::S3(s3) => s3.bucket.clone(),
            _ => String::new(),
        }
    }
}

#[async_trait]
pub trait ExportTarget: Send + Sync {
    async fn rig(&self) -> ExportRig;
}

/// A digest period boundary (so a window boundary too) about an hour ago: which windows share a
/// digest is then the same in every run.
pub fn first_window_boundary() -> i64 {
    let hour_ago = crate::now_ms() - 3_600_000;
    hour_ago - hour_ago.rem_euclid(PERIOD)
}

pub fn config(owner: &str) -> ExportConfig {
    ExportConfig {
        window_ms: WINDOW,
        grace_ms: GRACE,
        max_object_bytes: 4096,
        lease_ms: 60_000,
        owner: owner.into(),
        concurrency: 4,
        max_windows_per_pass: 1000,
        digest_period_ms: PERIOD,
    }
}

pub fn ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i:04}")).collect()
}

/// Stores events for `tenant` as the ingest path would, received at `received_at`; returns the
/// receipts the ingest response would give (id → SHA-256).
pub async fn ingest(
    store: &dyn AppendEvents,
    tenant: &str,
    ids: &[String],
    received_at: i64,
    occurred_at: Option<&str>,
) -> BTreeMap<String, String> {
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
            let mut body = json!({"id": id, "action": "doc.update", "actor": {"id": "u1"},
                "metadata": {"pad": "x".repeat(200)}});
            if let Some(at) = occurred_at {
                body["occurred_at"] = json!(at);
            }
            let p = prepare_event(body, "", &ctx, &mut || unreachable!()).unwrap();
            NewEvent::prepared(p, Timestamp(received_at + crate::RETENTION_MS))
        })
        .collect();
    let statuses = store
        .append_events(tenant, &events, Timestamp(received_at))
        .await
        .unwrap();
    assert!(
        statuses
            .iter()
            .all(|s| *s == auditlog_core::store::AppendStatus::Stored)
    );
    // The receipts ingest computed from the typed events; the same as those of the stored JSON.
    events
        .iter()
        .map(|e| {
            let computed = e.receipt.clone().unwrap();
            assert_eq!(computed, receipt(&e.json).unwrap());
            (e.event.id.to_string(), computed)
        })
        .collect()
}

pub fn assert_exactly_once(got: &Delivered, expected: &[String]) {
    let twice: Vec<_> = got.ids.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    let missing: Vec<_> = expected
        .iter()
        .filter(|id| !got.ids.contains_key(*id))
        .collect();
    assert!(missing.is_empty(), "never delivered: {missing:?}");
    assert_eq!(got.ids.len(), expected.len(), "unexpected extra events");
}

// ---------------------------------------------------------------------------------------------
// The behaviours.

pub async fn windows_are_written_once_and_only_when_closed(rig: &ExportRig) {
    let t0 = rig.t0;
    let mut all = Vec::new();
    for w in 0..3 {
        let batch = ids(&format!("w{w}"), 40); // 40 × ~300 B: several 4 KB parts per window
        ingest(
            rig.store.as_ref(),
            "acme",
            &batch,
            t0 + w * WINDOW + 1_000,
            None,
        )
        .await;
        all.extend(batch);
    }
    // Another tenant's events never reach this destination.
    ingest(
        rig.store.as_ref(),
        "globex",
        &ids("other", 5),
        t0 + 1_000,
        None,
    )
    .await;
    let sink = rig.sinks.sink_for(&rig.destination).await.unwrap();

    // The third window is still open (its end + grace has not passed): two windows go.
    let now = Timestamp(t0 + 3 * WINDOW + GRACE - 1);
    let store: &dyn auditlog_core::store::ExportStore = rig.store.as_ref();
    let report =
        export_destination(store, sink.as_ref(), &rig.destination, &config("a"), now).await;
    assert_eq!(report.error, None);
    assert_eq!(report.windows, 2);
    assert!(
        report.objects_created > 2,
        "windows split into parts: {report:?}"
    );
    assert_exactly_once(&(rig.reader)(), &all[..80]);

    // Later: the third window closes; the first two are not written again.
    let now = Timestamp(t0 + 3 * WINDOW + GRACE);
    let report =
        export_destination(store, sink.as_ref(), &rig.destination, &config("a"), now).await;
    assert_eq!(report.windows, 1);
    let delivered = (rig.reader)();
    assert_exactly_once(&delivered, &all);
    let state = rig.store.export_state(&rig.destination.id).await.unwrap();
    assert_eq!(state.events_delivered, 120);
    assert_eq!(state.exported_through, Some(Timestamp(t0 + 3 * WINDOW)));
    assert_eq!(state.lease_owner, None, "the lease is released");

    // Names are the documented layout.
    let first = auditlog_core::export::object_key(
        rig.destination.target.prefix(),
        "acme",
        auditlog_core::export::window_containing(Timestamp(t0), WINDOW),
        0,
        rig.destination.compression,
    );
    assert!(
        delivered.keys.contains(&first),
        "{first} in {:?}",
        delivered.keys
    );
    assert!(delivered.keys.iter().all(|k| k.starts_with(&format!(
        "{}tenant=acme/year=",
        rig.destination.target.prefix()
    ))));
}

/// Writes through, then fails as if the process died before the checkpoint.
struct CrashAfterWrite {
    inner: Arc<dyn ObjectSink>,
    armed: AtomicBool,
}

#[async_trait]
impl ObjectSink for CrashAfterWrite {
    async fn create(
        &self,
        key: &str,
        body: Vec<u8>,
        sha256: [u8; 32],
    ) -> Result<Creation, SinkError> {
        let outcome = self.inner.create(key, body, sha256).await?;
        if self.armed.swap(false, Ordering::SeqCst) {
            return Err(SinkError::failed("crash injected after the write"));
        }
        Ok(outcome)
    }
    async fn read(&self, key: &str) -> Result<Vec<u8>, SinkError> {
        self.inner.read(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>, SinkError> {
        self.inner.list(prefix).await
    }
    async fn stored_sha256(&self, key: &str) -> Result<[u8; 32], SinkError> {
        self.inner.stored_sha256(key).await
    }
    fn locate(&self, key: &str) -> String {
        self.inner.locate(key)
    }
    async fn put_verification(&self, key: &str, body: Vec<u8>) -> Result<(), SinkError> {
        self.inner.put_verification(key, body).await
    }
    fn describe(&self) -> String {
        "crash-after-write".into()
    }
}

pub async fn a_crash_between_write_and_checkpoint_neither_loses_nor_duplicates(rig: &ExportRig) {
    let t0 = rig.t0;
    let all = ids("c", 30);
    ingest(rig.store.as_ref(), "acme", &all, t0 + 1_000, None).await;
    let now = Timestamp(t0 + WINDOW + GRACE);
    let store: &dyn auditlog_core::store::ExportStore = rig.store.as_ref();
    let crashing = CrashAfterWrite {
        inner: rig.sinks.sink_for(&rig.destination).await.unwrap(),
        armed: AtomicBool::new(true),
    };
    let report = export_destination(store, &crashing, &rig.destination, &config("a"), now).await;
    assert!(report.error.as_deref().unwrap().contains("crash injected"));
    let state = rig.store.export_state(&rig.destination.id).await.unwrap();
    assert_eq!(state.exported_through, None, "the checkpoint did not move");
    assert!(state.last_error.is_some(), "status shows the error");

    // The retry rewrites the same names with the same bytes: accepted as already there.
    let sink = rig.sinks.sink_for(&rig.destination).await.unwrap();
    let report =
        export_destination(store, sink.as_ref(), &rig.destination, &config("b"), now).await;
    assert_eq!(report.error, None);
    assert_eq!(report.objects_already_present, 1);
    assert_exactly_once(&(rig.reader)(), &all);
    let state = rig.store.export_state(&rig.destination.id).await.unwrap();
    assert_eq!(state.last_error, None);
    assert_eq!(state.events_delivered, 30);
}

/// A paused destination writes nothing (objects nor digests) and keeps its checkpoint while its
/// backlog grows; resumed, it delivers every event exactly once.
pub async fn a_paused_destination_writes_nothing_until_resumed(rig: &ExportRig) {
    let t0 = rig.t0;
    let all = ids("p", 20);
    ingest(rig.store.as_ref(), "acme", &all, t0 + 1_000, None).await;
    let now = Timestamp(t0 + 2 * PERIOD);
    let control = |change: fn(&ExportState) -> ExportState| async move {
        let stored = rig.store.export_state(&rig.destination.id).await.unwrap();
        let record = crate::operator_record(
            "acme",
            SelfEvent::new(SelfAction::DestinationPaused, crate::harness_operator())
                .destination(&rig.destination),
            // After the windows exported here: the records are not among the events.
            t0 + 10 * PERIOD,
        );
        assert!(
            rig.store
                .change_export_state(&change(&stored), stored.version, &record)
                .await
                .unwrap()
        );
    };
    control(machine::pause).await;
    let store: &dyn auditlog_core::store::ExportStore = rig.store.as_ref();
    let sink = rig.sinks.sink_for(&rig.destination).await.unwrap();
    let report =
        export_destination(store, sink.as_ref(), &rig.destination, &config("a"), now).await;
    assert_eq!(
        (report.error, report.objects_created, report.digests_written),
        (None, 0, 0)
    );
    assert!(
        (rig.reader)().ids.is_empty(),
        "nothing written while paused"
    );
    let status = auditlog_export::destination_status(store, &rig.destination, now)
        .await
        .unwrap();
    assert!(status.paused);
    assert!(status.backlog.events >= 20, "{:?}", status.backlog);

    control(machine::resume).await;
    let report =
        export_destination(store, sink.as_ref(), &rig.destination, &config("a"), now).await;
    assert_eq!(report.error, None);
    assert_exactly_once(&(rig.reader)(), &all);
}

pub async fn two_exporters_at_once_export_each_window_once(rig: &ExportRig) {
    let t0 = rig.t0;
    let mut all = Vec::new();
    for w in 0..10 {
        let batch = ids(&format!("p{w}"), 20);
        ingest(
            rig.store.as_ref(),
            "acme",
            &batch,
            t0 + w * WINDOW + 500,
            None,
        )
        .await;
        all.extend(batch);
    }
    let now = Timestamp(t0 + 10 * WINDOW + GRACE);
    let mut passes = Vec::new();
    for owner in ["x", "y", "z"] {
        let store = rig.store.clone();
        let sinks = rig.sinks.clone();
        passes.push(tokio::spawn(async move {
            let store: &dyn auditlog_core::store::ExportStore = store.as_ref();
            export_pass(store, sinks.as_ref(), &config(owner), now)
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
    let store: &dyn auditlog_core::store::ExportStore = rig.store.as_ref();
    export_pass(store, rig.sinks.as_ref(), &config("w"), now)
        .await
        .unwrap();
    assert_exactly_once(&(rig.reader)(), &all);
    assert!(created > 0);
}

pub async fn late_events_are_exported_once_with_the_window_they_arrive_in(rig: &ExportRig) {
    let t0 = rig.t0;
    let store: &dyn auditlog_core::store::ExportStore = rig.store.as_ref();
    let sink = rig.sinks.sink_for(&rig.destination).await.unwrap();
    let early = ids("early", 5);
    ingest(rig.store.as_ref(), "acme", &early, t0 + 1_000, None).await;
    let now = Timestamp(t0 + WINDOW + GRACE);
    export_destination(store, sink.as_ref(), &rig.destination, &config("a"), now).await;
    // An event that happened inside the exported window, delivered (received) much later.
    let late = ids("late", 3);
    let happened = Timestamp(t0 + 30_000).to_rfc3339();
    ingest(
        rig.store.as_ref(),
        "acme",
        &late,
        t0 + 5 * WINDOW + 10,
        Some(&happened),
    )
    .await;
    let now = Timestamp(t0 + 6 * WINDOW + GRACE);
    let report =
        export_destination(store, sink.as_ref(), &rig.destination, &config("a"), now).await;
    assert_eq!(report.windows, 1, "{report:?}");
    let mut expected = early.clone();
    expected.extend(late);
    assert_exactly_once(&(rig.reader)(), &expected);
    // A pass with nothing new writes nothing.
    let now = Timestamp(t0 + 9 * WINDOW);
    let again = export_destination(store, sink.as_ref(), &rig.destination, &config("a"), now).await;
    assert_eq!((again.windows, again.objects_created), (0, 0));
}

/// Every exported line carries its sequence number and receipt, every object its summary and
/// its link to the one before: the delivered stream passes the verifier's checks, across
/// windows, parts and passes, and every receipt the ingest gave is delivered unchanged.
pub async fn exported_streams_verify_against_the_receipts(rig: &ExportRig) {
    let t0 = rig.t0;
    let store: &dyn auditlog_core::store::ExportStore = rig.store.as_ref();
    let mut receipts = BTreeMap::new();
    // Stores `n` events in window `w`, then exports every window closed by the end of `closed`
    // and checks the whole stream delivered so far.
    let mut step = async |prefix: &str, w: i64, n: usize, closed: i64| {
        let batch = ids(prefix, n);
        let at = t0 + w * WINDOW + 1_000;
        receipts.extend(ingest(rig.store.as_ref(), "acme", &batch, at, None).await);
        let sink = rig.sinks.sink_for(&rig.destination).await.unwrap();
        let now = Timestamp(t0 + closed * WINDOW + GRACE);
        let report =
            export_destination(store, sink.as_ref(), &rig.destination, &config("a"), now).await;
        assert_eq!(report.error, None);
        let delivered = (rig.reader)();
        let check = check_stream(&delivered.objects, StreamStart::Beginning, &receipts);
        assert_eq!(check.problems, vec![], "{:?}", delivered.keys);
        (delivered.objects.len(), check)
    };
    // 30 events (several 4 KB parts); in the next pass an empty window, then 5 more.
    let (objects, check) = step("r0", 0, 30, 1).await;
    assert!(objects > 2, "{objects} objects");
    assert_eq!((check.events, check.last_seq), (30, Some(30)));
    // The store keeps each receipt beside its event, and the exporter copies it from there.
    let query = auditlog_core::query::EventQuery {
        from: Some(Timestamp(t0)),
        to: Some(Timestamp(t0 + WINDOW)),
        limit: 100,
        ..Default::default()
    };
    let stored = store
        .query_events(auditlog_core::store::PageRequest {
            tenant: "acme",
            query: &query,
            after: None,
            now: Timestamp(t0),
        })
        .await
        .unwrap();
    assert_eq!(stored.len(), 30);
    for event in &stored {
        assert_eq!(event.receipt, Some(receipt(&event.json).unwrap()));
    }
    let (_, check) = step("r2", 2, 5, 3).await;
    assert_eq!((check.events, check.last_seq), (35, Some(35)));

    // The next pass continues the stream where the state says it stands.
    let state = store.export_state(&rig.destination.id).await.unwrap();
    assert_eq!(state.last_seq, 35);
    assert_eq!(state.last_object_sha256, check.last_object_sha256);
    let (_, check) = step("r4", 4, 4, 5).await;
    assert_eq!((check.events, check.last_seq), (39, Some(39)));
}

/// Runs each behaviour as its own test on a fresh rig from `$target`.
#[macro_export]
macro_rules! export_tests {
    ($target:expr) => {
        $crate::export_tests!(@one $target,
            windows_are_written_once_and_only_when_closed,
            a_crash_between_write_and_checkpoint_neither_loses_nor_duplicates,
            a_paused_destination_writes_nothing_until_resumed,
            two_exporters_at_once_export_each_window_once,
            late_events_are_exported_once_with_the_window_they_arrive_in,
            exported_streams_verify_against_the_receipts,
            digests_are_signed_chained_and_name_every_tampering
        );
    };
    (@one $target:expr, $($name:ident),+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                use $crate::export_suite::ExportTarget as _;
                let rig = $target.rig().await;
                $crate::export_suite::$name(&rig).await;
                $crate::export_suite::assert_no_acl_was_sent(&rig);
            }
        )+
    };
}
