//! The HTTP behaviour suite against DynamoDB (DynamoDB Local, AWS's own implementation, at
//! `AWS_ENDPOINT_URL_DYNAMODB`), plus what only DynamoDB has: TTL on the table and on every item.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use auditlog_tests::{DynamoBackend, RETENTION_MS, TestService};
use aws_sdk_dynamodb::types::{AttributeValue, TimeToLiveStatus};
use serde_json::json;

auditlog_tests::suite_tests!(auditlog_tests::DynamoBackend);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_is_enabled_and_on_every_item() {
    let service = TestService::start(&DynamoBackend).await;
    // The suite's store is behind a trait; inspect a second store on fresh tables directly.
    let store = DynamoBackend::fresh().await;
    let ttl = store
        .client()
        .describe_time_to_live()
        .table_name(&store.config().events_table)
        .send()
        .await
        .unwrap();
    let description = ttl.time_to_live_description().unwrap();
    assert_eq!(description.attribute_name(), Some("expires_at"));
    assert_eq!(
        description.time_to_live_status(),
        Some(&TimeToLiveStatus::Enabled)
    );
    drop(service);

    let service = TestService::start_with_store(std::sync::Arc::new(store.clone())).await;
    let key = service.key("acme", "write,read").await;
    let events: Vec<_> = (0..30)
        .map(|i| json!({"id": format!("ttl-{i}"), "action": "a.b", "actor": {"id": "x"}}))
        .collect();
    let (status, _) = service
        .post_events(&key, &json!({ "events": events }))
        .await;
    assert_eq!(status, 201);
    for i in 0..30 {
        let item = store
            .client()
            .get_item()
            .table_name(&store.config().events_table)
            .key("pk", AttributeValue::S(format!("E#acme#ttl-{i}")))
            .key("sk", AttributeValue::S("E".into()))
            .send()
            .await
            .unwrap();
        let item = item.item().expect("stored");
        let received: i64 = match item.get("received_at") {
            Some(AttributeValue::N(n)) => n.parse().unwrap(),
            other => panic!("{other:?}"),
        };
        let expires: i64 = match item.get("expires_at") {
            Some(AttributeValue::N(n)) => n.parse().unwrap(),
            other => panic!("TTL attribute missing: {other:?}"),
        };
        let expected = (received + RETENTION_MS + 999) / 1000;
        assert_eq!(
            expires, expected,
            "epoch seconds of received_at + retention"
        );
    }
}

/// DynamoDB refuses items over 400 KB (DynamoDB Local too, but with an error that says nothing
/// useful to a sender). The store checks the size itself and names the limit and the setting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_over_the_item_limit_is_refused_by_us_with_the_reason() {
    use auditlog_core::Timestamp;
    use auditlog_core::redact::Redactor;
    use auditlog_core::store::{AppendEvents, AppendStatus, NewEvent};
    use auditlog_core::validate::{IngestContext, Limits, prepare_event};
    let store = DynamoBackend::fresh().await;
    let limits = Limits {
        max_event_bytes: 1024 * 1024,
        max_free_json_bytes: 1024 * 1024,
        ..Limits::default()
    };
    let redactor = Redactor::default();
    let ctx = IngestContext {
        tenant: "acme",
        received_at: Timestamp(1_800_000_000_000),
        limits: &limits,
        redactor: &redactor,
    };
    let prepare = |id: &str, pad: usize| {
        let event = json!({"id": id, "action": "a.b", "actor": {"id": "x"}, "metadata": {"pad": "p".repeat(pad)}});
        let prepared = prepare_event(event, "", &ctx, &mut || unreachable!()).unwrap();
        NewEvent::prepared(prepared, Timestamp(1_900_000_000_000))
    };
    let events = [prepare("too-big", 410 * 1024), prepare("fits", 100 * 1024)];
    let statuses = store
        .append_events("acme", &events, Timestamp(1_800_000_000_000))
        .await
        .unwrap();
    match &statuses[0] {
        AppendStatus::Failed(reason) => {
            assert!(reason.contains("409600-byte item limit"), "{reason}");
            assert!(reason.contains("AUDITLOG_MAX_EVENT_BYTES"), "{reason}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(
        statuses[1],
        AppendStatus::Stored,
        "the other event is unaffected"
    );
}
