//! End to end through the Lambda runtime API: `cargo lambda watch` runs the ingest function
//! (its runtime client, `lambda_http`'s event parsing and response shaping, our handler) against
//! DynamoDB Local, and each sample in `events/` is sent with `cargo lambda invoke --data-file`.
//!
//! `scripts/lambda-e2e.sh` starts the watcher and runs this test (`scripts/test` calls it), so
//! it is ignored in a plain `cargo test`, which has no watcher to talk to.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::path::PathBuf;
use std::process::Command;

use auditlog_aws::DynamoStore;
use auditlog_tests::{SAMPLE_TENANT, register_sample_key};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

/// `cargo lambda invoke` of one sample; the API Gateway (v2) response it printed.
fn invoke(port: &str, file: &str) -> (u16, Value, Value) {
    let events = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events");
    let output = Command::new("cargo")
        .args([
            "lambda",
            "invoke",
            "auditlog-ingest",
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
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "invoke {file} failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
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
