//! End to end through the Lambda runtime API: `cargo lambda watch` serves the runtime API to
//! the two function binaries (their runtime clients, `lambda_http`'s event parsing and response
//! shaping, our handlers), which run against DynamoDB Local and moto's S3; each sample in
//! `events/` is sent with `cargo lambda invoke --data-file`.
//!
//! `scripts/lambda-e2e.sh` starts the watcher and the functions and runs these tests
//! (`scripts/test` calls it), so they are ignored in a plain `cargo test`, which has neither.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::path::PathBuf;
use std::process::Command;

use auditlog_aws::DynamoStore;
use auditlog_tests::{SAMPLE_TENANT, register_sample_key};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

/// `cargo lambda invoke` of one sample on `function`: whether it succeeded, and what it printed.
fn invoke_raw(function: &str, port: &str, file: &str) -> (bool, String, String) {
    let events = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events");
    let output = Command::new("cargo")
        .args([
            "lambda",
            "invoke",
            function,
            "--invoke-address",
            "127.0.0.1",
            "--invoke-port",
            port,
        ])
        .arg("--data-file")
        .arg(events.join(file))
        .args(["--output-format", "json"])
        .output()
        .expect("cargo lambda invoke runs (scripts/lambda-e2e.sh puts it on PATH)");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).to_string(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}

/// An ingest sample through the ingest function; the API Gateway (v2) response it printed.
fn invoke(port: &str, file: &str) -> (u16, Value, Value) {
    let (ok, stdout, stderr) = invoke_raw("auditlog-ingest", port, file);
    assert!(ok, "invoke {file} failed: {stdout}\n{stderr}");
    let response: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{file}: not a JSON response ({e}): {stdout}"));
    let status = response["statusCode"].as_u64().expect("statusCode") as u16;
    let body: Value =
        serde_json::from_str(response["body"].as_str().expect("text body")).expect("JSON body");
    (status, body, response["headers"].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs `cargo lambda watch`: run scripts/lambda-e2e.sh (scripts/test does)"]
async fn sample_events_through_the_lambda_runtime() {
    let port = std::env::var("AUDITLOG_LAMBDA_INVOKE_PORT")
        .expect("AUDITLOG_LAMBDA_INVOKE_PORT names the watcher's port");
    // The same tables the watched function reads (the script made them with
    // `auditlog tables create` before the function started).
    let store = DynamoStore::from_env().await.unwrap();
    let config = store.config().clone();
    register_sample_key(&store).await;

    let (status, body, headers) = invoke(&port, "ingest-single.json");
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["accepted"], 1, "{body}");
    // The request id is the Lambda invocation's id, so a report leads to the function's logs.
    let request_id = headers["x-request-id"].as_str().expect("x-request-id");
    assert_eq!(request_id, body["request_id"].as_str().unwrap());
    assert_eq!(
        request_id.len(),
        36,
        "a Lambda request id (UUID): {request_id}"
    );

    let (status, body, _) = invoke(&port, "ingest-single.json");
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["duplicate"], 1,
        "a resent event is not stored twice: {body}"
    );

    let (status, body, _) = invoke(&port, "ingest-batch.json");
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["accepted"], 3, "{body}");

    let (status, body, _) = invoke(&port, "query.json");
    assert_eq!(status, 200, "{body}");
    let ids: Vec<&str> = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["evt-sample-0002"]);

    let (status, body, _) = invoke(&port, "malformed-body.json");
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "malformed_json");

    let (status, body, _) = invoke(&port, "missing-key.json");
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "missing_credentials");

    // What landed in the table, read straight from DynamoDB: the four events, each once, with
    // the TTL attribute, the password masked; nothing from the refused requests.
    let mut landed = Vec::new();
    for id in [
        "evt-sample-0001",
        "evt-sample-0002",
        "evt-sample-0003",
        "evt-sample-0004",
        "evt-sample-0005",
    ] {
        let item = store
            .client()
            .get_item()
            .table_name(&config.events_table)
            .key("pk", AttributeValue::S(format!("E#{SAMPLE_TENANT}#{id}")))
            .key("sk", AttributeValue::S("E".into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        if let Some(item) = item.item() {
            assert!(
                matches!(item.get("expires_at"), Some(AttributeValue::N(_))),
                "{id} has its TTL attribute"
            );
            let body = item.get("body").and_then(|b| b.as_s().ok()).unwrap();
            assert!(!body.contains("hunter2"), "{id} is stored masked");
            landed.push(id);
        }
    }
    assert_eq!(
        landed,
        [
            "evt-sample-0001",
            "evt-sample-0002",
            "evt-sample-0003",
            "evt-sample-0004"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs `cargo lambda watch` and the functions: run scripts/lambda-e2e.sh (scripts/test does)"]
async fn scheduled_events_through_the_export_function() {
    use auditlog_core::Timestamp;
    use auditlog_core::export::{Destination, Target};
    use auditlog_tests::export_suite::{S3Bucket, assert_exactly_once, ids, ingest, unique};

    let port = std::env::var("AUDITLOG_LAMBDA_INVOKE_PORT")
        .expect("AUDITLOG_LAMBDA_INVOKE_PORT names the watcher's port");
    let store = DynamoStore::from_env().await.unwrap();
    // A customer's bucket, written through their role; events received an hour ago, so their
    // windows are closed under the function's default 5-minute windows.
    let bucket = S3Bucket::create(true);
    let tenant = unique("lambda-export");
    auditlog_tests::add_destination(
        &store,
        &Destination::new(
            unique("dst_e2e"),
            tenant.clone(),
            Target::S3(bucket.target()),
            Timestamp(auditlog_tests::now_ms()),
        ),
    )
    .await;
    let events = ids("e2e", 25);
    ingest(
        &store,
        &tenant,
        &events,
        auditlog_tests::now_ms() - 3_600_000,
        None,
    )
    .await;

    let (ok, stdout, stderr) = invoke_raw("auditlog-export", &port, "export-scheduled.json");
    assert!(ok, "{stdout}\n{stderr}");
    let summary: Value = serde_json::from_str(&stdout).expect("the summary is JSON");
    assert_eq!(summary["failed"], 0, "{summary}");
    assert_eq!(summary["events"], 25, "{summary}");
    assert_eq!(summary["scheduled_time"], "2026-11-22T10:05:00.000Z");
    assert_eq!(
        summary["request_id"].as_str().map(str::len),
        Some(36),
        "{summary}"
    );
    assert_exactly_once(&bucket.delivered(), &events);

    // The next tick (as EventBridge Scheduler sends it) has nothing new; nothing is rewritten.
    let (ok, stdout, stderr) = invoke_raw("auditlog-export", &port, "export-scheduler.json");
    assert!(ok, "{stdout}\n{stderr}");
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        (
            summary["events"].as_u64(),
            summary["objects_created"].as_u64()
        ),
        (Some(0), Some(0))
    );
    assert_exactly_once(&bucket.delivered(), &events);

    // A bad input is a function error that names the field.
    let (ok, stdout, stderr) = invoke_raw("auditlog-export", &port, "export-invalid.json");
    assert!(!ok, "{stdout}");
    let printed = format!("{stdout}{stderr}");
    assert!(
        printed.contains("/scheduled_time: not an RFC 3339 time"),
        "{printed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs `cargo lambda watch` and the functions: run scripts/lambda-e2e.sh (scripts/test does)"]
async fn a_stream_is_delivered_by_the_export_function() {
    use auditlog_core::Timestamp;
    use auditlog_core::export::{Destination, Target};
    use auditlog_core::stream::target::{Author, stream_settings};
    use auditlog_tests::export_suite::{ids, ingest, unique};
    use auditlog_tests::receivers::{Protocol, Receiver};
    use auditlog_tests::stream_suite::{OPEN, new_secret};

    let port = std::env::var("AUDITLOG_LAMBDA_INVOKE_PORT")
        .expect("AUDITLOG_LAMBDA_INVOKE_PORT names the watcher's port");
    let store = DynamoStore::from_env().await.unwrap();
    let secret = new_secret();
    let receiver = Receiver::start(Protocol::Webhook {
        secret: secret.clone(),
    })
    .await;
    let secrets = tempfile::tempdir().unwrap();
    let secret_file = secrets.path().join("hook");
    std::fs::write(&secret_file, &secret).unwrap();
    let tenant = unique("lambda-stream");
    let body = serde_json::json!({"webhook": {"url": format!("{}/hook", receiver.url),
        "secret_file": secret_file.to_string_lossy()}});
    let settings = stream_settings(&body, Author::Operator, OPEN).unwrap();
    auditlog_tests::add_destination(
        &store,
        &Destination::new(
            unique("dst_e2e_stream"),
            tenant.clone(),
            Target::Stream(Box::new(settings)),
            Timestamp(auditlog_tests::now_ms()),
        ),
    )
    .await;
    let events = ids("st", 40);
    ingest(
        &store,
        &tenant,
        &events,
        auditlog_tests::now_ms() - 60_000,
        None,
    )
    .await;

    let (ok, stdout, stderr) = invoke_raw("auditlog-export", &port, "export-scheduled.json");
    assert!(ok, "{stdout}\n{stderr}");
    let summary: Value = serde_json::from_str(&stdout).expect("the summary is JSON");
    assert!(summary["streams"].is_array(), "{summary}");
    let arrived = receiver.snapshot(|r| r.first_arrivals());
    assert_eq!(arrived, events, "{summary}");
    assert!(receiver.snapshot(|r| r.violations.is_empty()));
}
