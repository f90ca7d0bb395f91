//! The sample API Gateway events in `events/` through `lambda_http`'s own request parsing and
//! the ingest function's handler, on both stores: what `sam local invoke -e events/…` and
//! `cargo lambda invoke --data-file events/…` send, minus the runtime.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::sync::Arc;
use std::sync::atomic::AtomicI64;

use auditlog_core::store::ServiceStore;
use auditlog_tests::{
    Backend, DynamoBackend, LocalBackend, SAMPLE_TENANT, lambda_event, now_ms, register_sample_key,
    sample_key, test_state,
};
use lambda_http::Body;
use serde_json::Value;

async fn invoke(
    store: &Arc<dyn ServiceStore>,
    file: &str,
) -> (u16, Value, lambda_http::http::HeaderMap) {
    let request = lambda_http::request::from_str(&lambda_event(file))
        .unwrap_or_else(|e| panic!("lambda_http cannot parse {file}: {e}"));
    let router = auditlog_http::router(test_state(store.clone(), Arc::new(AtomicI64::new(0))));
    let response = auditlog_ingest::handle(router, request).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = match response.into_body() {
        Body::Text(text) => serde_json::from_str(&text).unwrap(),
        other => panic!("{file}: expected a JSON text body, got {other:?}"),
    };
    (status, body, headers)
}

async fn every_sample_event_gets_its_answer(backend: &dyn Backend) {
    let (store, _keep) = backend.fresh_store().await;
    register_sample_key(store.as_ref()).await;

    let (status, body, headers) = invoke(&store, "ingest-single.json").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["accepted"], 1, "{body}");
    assert_eq!(
        body["redacted"], 1,
        "the sample's password is masked: {body}"
    );
    assert!(headers.contains_key("x-request-id"));

    // API Gateway retries and clients resend: the same event is a duplicate, not a second copy.
    let (status, body, _) = invoke(&store, "ingest-single.json").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["duplicate"], 1, "{body}");

    let (status, body, _) = invoke(&store, "ingest-batch.json").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["accepted"], 3, "{body}");

    let (status, body, _) = invoke(&store, "query.json").await;
    assert_eq!(status, 200, "{body}");
    let events = body["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{body}");
    assert_eq!(events[0]["id"], "evt-sample-0002");
    assert_eq!(events[0]["tenant"], SAMPLE_TENANT);

    // The query was recorded in the tenant's log, from the address API Gateway saw.
    let pairs = [("action".to_string(), "auditlog.events.listed".to_string())];
    let query = auditlog_core::query::parse_query(&pairs).unwrap().query;
    let records = store
        .query_events(auditlog_core::store::PageRequest {
            tenant: SAMPLE_TENANT,
            query: &query,
            after: None,
            now: auditlog_core::Timestamp(now_ms()),
        })
        .await
        .unwrap();
    assert_eq!(records.len(), 1, "{records:?}");
    let record: Value = serde_json::from_str(&records[0].json).unwrap();
    assert_eq!(record["context"]["ip_address"], "203.0.113.24", "{record}");
    assert_eq!(
        record["context"]["user_agent"], "example-app/2.3",
        "{record}"
    );
    assert_eq!(record["metadata"]["returned"], 1, "{record}");

    let (status, body, _) = invoke(&store, "malformed-body.json").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "malformed_json", "{body}");

    let (status, body, _) = invoke(&store, "missing-key.json").await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "missing_credentials", "{body}");

    // What the store holds: the masked event, once; nothing from the refused requests.
    let now = auditlog_core::Timestamp(now_ms());
    let stored = store
        .get_event(SAMPLE_TENANT, "evt-sample-0001", now)
        .await
        .unwrap()
        .expect("the single event is stored");
    assert!(
        !stored.contains("hunter2"),
        "the password is masked: {stored}"
    );
    assert!(
        store
            .get_event(SAMPLE_TENANT, "evt-sample-0005", now)
            .await
            .unwrap()
            .is_none(),
        "the malformed request stored nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_events_on_sqlite() {
    every_sample_event_gets_its_answer(&LocalBackend).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_events_on_dynamodb() {
    every_sample_event_gets_its_answer(&DynamoBackend).await;
}

#[test]
fn the_sample_key_is_shaped_like_a_key() {
    assert!(auditlog_core::keys::key_id_of(&sample_key()).is_some());
}
