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

/// A directory destination of tenant `acme` under `out`, prefix `audit/`, every option at its
/// default.
fn directory_destination(id: &str, out: &std::path::Path) -> Destination {
    Destination::new(
        id.into(),
        "acme".into(),
        Target::Directory {
            path: out.display().to_string(),
            prefix: "audit/".into(),
        },
        Timestamp(auditlog_tests::now_ms()),
    )
}

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
    let destination = directory_destination("dst_dir", out.path());
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

/// An object store with a filter writes only the events it admits, and the checkpoint passes
/// the others (handled, not backlog). Every object declares the filter, so the verifier, given
/// every ingest receipt, counts the receipts of left-out events instead of calling them lost,
/// while still checking each delivered event against its receipt.
#[tokio::test]
async fn a_filtered_object_store_writes_only_what_its_filter_admits_and_says_so() {
    use auditlog_core::event::Outcome;
    use auditlog_core::redact::Redactor;
    use auditlog_core::store::{AppendEvents as _, ExportStateStore as _, NewEvent};
    use auditlog_core::stream::filter::{Filter, Side};
    use auditlog_core::validate::{IngestContext, Limits, prepare_event};

    let data = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let store = auditlog_local::SqliteStore::open(data.path()).unwrap();
    let filter = Filter {
        include: Side {
            actions: vec!["doc.*".into()],
            outcomes: vec![],
        },
        exclude: Side {
            actions: vec![],
            outcomes: vec![Outcome::Failure],
        },
    };
    let destination = Destination {
        filter: Some(filter.clone()),
        ..directory_destination("dst_filtered", out.path())
    };
    auditlog_tests::add_destination(&store, &destination).await;
    let t0 = first_window_boundary();
    let (limits, redactor) = (Limits::default(), Redactor::default());
    let ctx = IngestContext {
        tenant: "acme",
        received_at: Timestamp(t0 + 1_000),
        limits: &limits,
        redactor: &redactor,
    };
    // (id, action, outcome, admitted)
    let cases = [
        ("e-1", "doc.update", "success", true),
        ("e-2", "doc.update", "failure", false),
        ("e-3", "user.login", "success", false),
        ("e-4", "doc.share.revoked", "unknown", true),
        ("e-5", "docs.update", "success", false),
        ("e-6", "doc.delete", "success", true),
    ];
    let events: Vec<NewEvent> = cases
        .iter()
        .map(|(id, action, outcome, _)| {
            let body = serde_json::json!({"id": id, "action": action, "outcome": outcome,
                "actor": {"id": "u1"}});
            let prepared = prepare_event(body, "", &ctx, &mut || unreachable!()).unwrap();
            NewEvent::prepared(prepared, Timestamp(t0 + 86_400_000))
        })
        .collect();
    store
        .append_events("acme", &events, Timestamp(t0 + 1_000))
        .await
        .unwrap();
    let receipts: std::collections::BTreeMap<String, String> = events
        .iter()
        .map(|e| (e.event.id.to_string(), e.receipt.clone().unwrap()))
        .collect();

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
    let state = store.export_state("dst_filtered").await.unwrap();
    assert_eq!(state.exported_through, Some(Timestamp(t0 + WINDOW)));
    assert_eq!(state.events_delivered, 3);

    let delivered = read_directory(out.path());
    let mut got: Vec<&str> = delivered.ids.keys().map(String::as_str).collect();
    got.sort();
    let admitted: Vec<&str> = cases.iter().filter(|c| c.3).map(|c| c.0).collect();
    assert_eq!(got, admitted);
    for object in &delivered.objects {
        let last = object.text.as_ref().unwrap().lines().last().unwrap();
        let line: serde_json::Value = serde_json::from_str(last).unwrap();
        assert_eq!(
            line["integrity"]["object"]["filter"],
            serde_json::to_value(&filter).unwrap(),
            "{last}"
        );
    }
    let check = check_stream(&delivered.objects, StreamStart::Beginning, &receipts);
    assert!(check.problems.is_empty(), "{:?}", check.problems);
    assert_eq!(check.events, 3);
    assert_eq!(check.filter, Some(filter));
    assert_eq!(check.receipts_not_in_filtered_stream, 3);

    // A delivered event that differs from its receipt is still named in a filtered stream.
    let mut wrong = receipts.clone();
    wrong.insert("e-6".into(), "0".repeat(64));
    let check = check_stream(&delivered.objects, StreamStart::Beginning, &wrong);
    assert_eq!(check.problems.len(), 1, "{:?}", check.problems);
    assert!(
        check.problems[0]
            .message
            .starts_with("delivered with different content")
    );

    // `auditlog verify` says the stream is filtered and how many receipts it does not hold.
    let receipts_file = data.path().join("receipts.json");
    std::fs::write(&receipts_file, serde_json::to_vec(&receipts).unwrap()).unwrap();
    let verified = auditlog_tests::run_auditlog(
        &[
            "verify",
            out.path().to_str().unwrap(),
            "--receipts",
            receipts_file.to_str().unwrap(),
            "--as-of",
            &now.to_rfc3339(),
        ],
        &[],
    );
    assert_eq!(
        verified.code,
        Some(0),
        "{}{}",
        verified.stdout,
        verified.stderr
    );
    assert!(
        verified
            .stdout
            .contains("3 receipts name events it does not hold"),
        "{}",
        verified.stdout
    );
}

/// An object store writing OCSF or ECS: each line is the record `render` makes of the event
/// (the same as a stream sends, checked against the published schemas in `stream_formats.rs`),
/// with an `integrity` member holding the record's own hash and the event's id and ingest
/// receipt. The verifier checks both: a changed record is named by its line, and every receipt
/// is found.
#[tokio::test]
async fn ocsf_and_ecs_objects_carry_each_events_receipt_and_verify() {
    use auditlog_core::Event;
    use auditlog_core::stream::format::{Format, render};
    use auditlog_core::stream::ocsf::OcsfMapping;

    for format in [Format::Ocsf, Format::Ecs] {
        let data = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let store = auditlog_local::SqliteStore::open(data.path()).unwrap();
        let destination = Destination {
            format,
            ..directory_destination("dst_formatted", out.path())
        };
        auditlog_tests::add_destination(&store, &destination).await;
        let t0 = first_window_boundary();
        let receipts = ingest(&store, "acme", &ids("f", 5), t0 + 1_000, None).await;
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
        assert_eq!(report.error, None, "{format:?}");

        // Read back without our code: each line is the rendered record plus `integrity`.
        let delivered = read_directory(out.path());
        let stored: std::collections::BTreeMap<String, String> = {
            use auditlog_core::query::EventQuery;
            use auditlog_core::store::{PageRequest, QueryEvents as _};
            let query = EventQuery::default();
            let rows = store
                .query_events(PageRequest {
                    tenant: "acme",
                    query: &query,
                    after: None,
                    now,
                })
                .await
                .unwrap();
            rows.into_iter()
                .map(|r| {
                    let event: Event = serde_json::from_str(&r.json).unwrap();
                    (event.id.to_string(), r.json)
                })
                .collect()
        };
        let mut seen = 0;
        for object in &delivered.objects {
            for line in object.text.as_ref().unwrap().lines() {
                let mut record: serde_json::Value = serde_json::from_str(line).unwrap();
                let integrity = record.as_object_mut().unwrap().remove("integrity").unwrap();
                let id = integrity["event"]["id"].as_str().unwrap();
                let json = &stored[id];
                let event: Event = serde_json::from_str(json).unwrap();
                let expected: serde_json::Value =
                    serde_json::from_str(&render(&event, json, format, &OcsfMapping::default()))
                        .unwrap();
                assert_eq!(record, expected, "{format:?}");
                assert_eq!(integrity["event"]["receipt"], receipts[id].as_str());
                assert_eq!(
                    integrity["sha256"].as_str().unwrap(),
                    auditlog_core::integrity::receipt(&record.to_string()).unwrap()
                );
                seen += 1;
            }
        }
        assert_eq!(seen, 5, "{format:?}");
        let check = check_stream(&delivered.objects, StreamStart::Beginning, &receipts);
        assert!(
            check.problems.is_empty(),
            "{format:?}: {:?}",
            check.problems
        );
        assert_eq!(check.events, 5);

        // A record changed in place is named by its line; its event's receipt no longer
        // appears as delivered with that content only if the id itself changed, so the line
        // hash is what catches it.
        let mut tampered = delivered.objects.clone();
        let text = tampered[0].text.clone().unwrap();
        let changed = text.replacen("doc.update", "doc.delete", 1);
        assert_ne!(
            changed, text,
            "{format:?}: the action appears in the record"
        );
        tampered[0].text = Ok(changed);
        let check = check_stream(&tampered, StreamStart::Beginning, &receipts);
        assert!(
            check.problems.iter().any(|p| p
                .message
                .ends_with("the event does not hash to its sha256 (modified)")),
            "{format:?}: {:?}",
            check.problems
        );
    }
}

/// A replay set of an object store: the original's events from `T` written again under
/// `{prefix}_replay/{id}/`, as a stream of its own (sequence numbers from 1, its own chain and
/// signed digests), up to the end of the digest period holding what was delivered when it was
/// asked for, and no further; the original objects are not touched, and `auditlog verify` reads
/// both streams.
#[tokio::test]
async fn a_replay_set_writes_the_original_events_again_under_its_own_prefix() {
    use auditlog_core::export::replay::replay_destination;
    use auditlog_core::store::ExportStateStore as _;

    let data = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let store = auditlog_local::SqliteStore::open(data.path()).unwrap();
    let original = Destination {
        compression: auditlog_core::export::Compression::Zstd,
        ..directory_destination("dst_orig", out.path())
    };
    auditlog_tests::add_destination(&store, &original).await;
    let t0 = first_window_boundary();
    let mut receipts = std::collections::BTreeMap::new();
    for w in 0..5 {
        let ids = ids(&format!("w{w}"), 3);
        receipts.extend(ingest(&store, "acme", &ids, t0 + w * WINDOW + 1_000, None).await);
    }
    let sinks = auditlog_export::Sinks::without_aws();
    let export = |destination: Destination, now: i64| {
        let (store, sinks) = (&store, &sinks);
        async move {
            let sink = sinks.sink_for(&destination).await.unwrap();
            let report = auditlog_export::engine::export_destination(
                store,
                sink.as_ref(),
                &destination,
                &config("a"),
                Timestamp(now),
            )
            .await;
            assert_eq!(report.error, None);
            report
        }
    };
    let now = t0 + 5 * WINDOW + GRACE;
    export(original.clone(), now).await;
    let before = read_directory(out.path());
    let snapshot: Vec<(String, Vec<u8>)> = before
        .keys
        .iter()
        .map(|k| (k.clone(), std::fs::read(out.path().join(k)).unwrap()))
        .collect();

    // Replay from the middle of the third window: from that window's start.
    let state = store.export_state("dst_orig").await.unwrap();
    let from = Timestamp(t0 + 2 * WINDOW + 30_000);
    let set =
        replay_destination(&original, &state, from, "dst_rpl".into(), Timestamp(now)).unwrap();
    auditlog_tests::add_destination(&store, &set).await;
    // Events after the request, in later windows: the original takes them, the set never does.
    for w in 5..7 {
        let ids = ids(&format!("w{w}"), 3);
        receipts.extend(ingest(&store, "acme", &ids, t0 + w * WINDOW + 1_000, None).await);
    }
    let later = t0 + 7 * WINDOW + GRACE;
    let report = export(set.clone(), later).await;
    assert_eq!((report.windows, report.events), (3, 9));
    assert_eq!(report.digests_written, 1);
    export(original.clone(), later).await;
    // Another pass, much later: nothing more for the set.
    let report = export(set.clone(), later + 100 * WINDOW).await;
    assert_eq!((report.windows, report.digests_written), (0, 0));
    let set_state = store.export_state("dst_rpl").await.unwrap();
    let replay = set.replay.clone().unwrap();
    assert!(replay.is_complete(&set_state, &config("a")));

    let after = read_directory(out.path());
    for (key, bytes) in &snapshot {
        assert_eq!(
            &std::fs::read(out.path().join(key)).unwrap(),
            bytes,
            "{key} changed"
        );
    }
    let (replayed, originals): (Vec<_>, Vec<_>) = after
        .objects
        .iter()
        .cloned()
        .partition(|o| o.key.contains("/_replay/"));
    for object in &replayed {
        assert!(
            object.key.starts_with("audit/_replay/dst_rpl/tenant=acme/")
                && object.key.ends_with(".ndjson.zst"),
            "{}",
            object.key
        );
    }
    let replayed_ids: std::collections::BTreeSet<String> = replayed
        .iter()
        .flat_map(|o| {
            o.text
                .as_ref()
                .unwrap()
                .lines()
                .map(|l| {
                    serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                        .as_str()
                        .unwrap()
                        .to_string()
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let expected: std::collections::BTreeSet<String> =
        (2..5).flat_map(|w| ids(&format!("w{w}"), 3)).collect();
    assert_eq!(replayed_ids, expected);
    let subset: std::collections::BTreeMap<String, String> = receipts
        .iter()
        .filter(|(id, _)| expected.contains(*id))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let check = check_stream(&replayed, StreamStart::Beginning, &subset);
    assert!(check.problems.is_empty(), "{:?}", check.problems);
    assert_eq!((check.events, check.last_seq), (9, Some(9)));
    let check = check_stream(&originals, StreamStart::Beginning, &receipts);
    assert!(check.problems.is_empty(), "{:?}", check.problems);

    let verified = auditlog_tests::run_auditlog(
        &[
            "verify",
            out.path().to_str().unwrap(),
            "--as-of",
            &Timestamp(later).to_rfc3339(),
        ],
        &[],
    );
    assert_eq!(
        verified.code,
        Some(0),
        "{}{}",
        verified.stdout,
        verified.stderr
    );
    assert!(
        verified
            .stdout
            .contains("stream audit/_replay/dst_rpl/tenant=acme: 3 objects, 9 events"),
        "{}",
        verified.stdout
    );
}
