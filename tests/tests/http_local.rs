//! The HTTP behaviour suite against the embedded SQLite store (local mode).

auditlog_tests::suite_tests!(auditlog_tests::LocalBackend);

/// A read whose record cannot be stored is refused, and a change whose record cannot be
/// stored is not made: a trigger makes every insert into `events` fail, as a full disk would.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_read_or_changed_unrecorded() {
    use serde_json::{Value, json};

    let dir = tempfile::tempdir().expect("tempdir");
    let store = auditlog_local::SqliteStore::open(dir.path()).expect("open");
    let s = auditlog_tests::TestService::start_with_store(std::sync::Arc::new(store.clone())).await;
    let key = s.key("acme", "write,read,admin").await;
    let (status, _) = s
        .post_events(
            &key,
            &json!({"id": "e-1", "action": "doc.viewed", "actor": {"id": "u"}}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(s.get(Some(&key), "/v1/events").await.0, 200);

    let db = rusqlite::Connection::open(store.path()).expect("second connection");
    db.execute_batch(
        "CREATE TRIGGER full_disk BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
    )
    .expect("trigger");

    for path in ["/v1/events", "/v1/events/e-1"] {
        let (status, body) = s.get(Some(&key), path).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (503, Some("audit_unavailable")),
            "{path}: {body}"
        );
        assert!(
            !body.to_string().contains("e-1\",\"action"),
            "no event in a refusal: {body}"
        );
    }
    let added = s
        .client
        .post(s.url("/v1/destinations"))
        .bearer_auth(&key)
        .json(&json!({"bucket": "acme-audit"}))
        .send()
        .await
        .expect("request");
    assert_eq!(added.status(), 503);

    db.execute_batch("DROP TRIGGER full_disk;")
        .expect("drop trigger");
    let (status, list) = s.get(Some(&key), "/v1/destinations").await;
    assert_eq!(status, 200);
    assert_eq!(list["destinations"], Value::Array(vec![]), "{list}");
    // Only the one successful read was recorded before the disk filled.
    let reads = s.all_pages(&key, "action=auditlog.events.listed").await;
    assert_eq!(reads.len(), 1, "{reads:#?}");
}
