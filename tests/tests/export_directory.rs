//! The exactly-once export behaviours on a local directory, on the SQLite store (local mode).

auditlog_tests::export_tests!(auditlog_tests::export_suite::DirectoryOnSqlite);

/// Every behaviour again with the destination compressing with zstd (`.ndjson.zst`): the same
/// exactly-once delivery, and the verifier reads and checks those objects as it does gzip ones.
mod zstd {
    auditlog_tests::export_tests!(auditlog_tests::export_suite::ZstdDirectoryOnSqlite);
}

use auditlog_core::Timestamp;
use auditlog_core::export::{Destination, Target};
use auditlog_core::integrity::{StreamStart, check_stream};
use auditlog_export::engine::SinkFactory as _;
use auditlog_tests::export_suite::{
    GRACE, WINDOW, config, first_window_boundary, ids, ingest, read_directory,
};

/// Receipts are computed once, at ingest, and the exporter copies the stored one into each line:
/// an event whose stored JSON someone changed after ingest (here, its row edited in SQLite) is
/// delivered with a receipt it no longer matches, and the verifier names its line even without
/// the ingest answers' receipts. (Had the exporter computed receipts from what it read, only
/// those receipts would show the change.)
#[tokio::test]
async fn an_event_changed_in_the_store_after_ingest_is_named_by_the_verifier() {
    let data = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let store = auditlog_local::SqliteStore::open(data.path()).unwrap();
    let destination = Destination {
        id: "dst_dir".into(),
        tenant: "acme".into(),
        target: Target::Directory {
            path: out.path().display().to_string(),
            prefix: "audit/".into(),
        },
        created_at: Timestamp(auditlog_tests::now_ms()),
        compression: Default::default(),
    };
    auditlog_tests::add_destination(&store, &destination).await;
    let t0 = first_window_boundary();
    let receipts = ingest(&store, "acme", &ids("t", 3), t0 + 1_000, None).await;

    let db = rusqlite::Connection::open(data.path().join(auditlog_local::DATABASE_FILE)).unwrap();
    let changed = db
        .execute(
            "UPDATE events SET body = replace(body, '\"doc.update\"', '\"doc.delete\"') WHERE id = 't-0001'",
            [],
        )
        .unwrap();
    assert_eq!(changed, 1);

    let sinks = auditlog_export::Sinks::without_aws();
    let sink = sinks.sink_for(&destination).await.unwrap();
    let now = Timestamp(t0 + WINDOW + GRACE);
    let report = auditlog_export::engine::export_destination(
        &store,
        sink.as_ref(),
        &destination,
        &config("a"),
        now,
    )
    .await;
    assert_eq!(report.error, None);
    let delivered = read_directory(out.path());
    let problems = |receipts: &std::collections::BTreeMap<String, String>| {
        let check = check_stream(&delivered.objects, StreamStart::Beginning, receipts);
        assert_eq!(check.events, 3);
        let mut messages: Vec<String> = check.problems.into_iter().map(|p| p.message).collect();
        messages.sort();
        messages
    };
    assert_eq!(
        problems(&std::collections::BTreeMap::new()),
        ["line 2 (seq 2): the event does not hash to its sha256 (modified)"]
    );
    let with_receipts = problems(&receipts);
    assert_eq!(with_receipts.len(), 2, "{with_receipts:?}");
    assert!(with_receipts[0].starts_with("delivered with different content"));
}
