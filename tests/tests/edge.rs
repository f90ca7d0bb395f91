//! The edge module: the same answers natively and as WebAssembly under Node's WASI, byte for
//! byte, on every fixture and every bad input; and the regional API accepts what the edge
//! forwards, storing exactly what it stores for the same events sent directly.
//!
//! The test builds `auditlog-edge` for `wasm32-wasip1` itself (release, like a deployment) and
//! needs `node` (20 or newer) on the PATH.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use auditlog_core::edge::handle;
use auditlog_core::redact::Redactor;
use auditlog_core::validate::Limits;
use auditlog_tests::{LocalBackend, TestService, fixture_json, fixtures};
use serde_json::{Value, json};

const NOW_MS: i64 = 1_795_305_600_000; // 2026-11-22T00:00:00Z

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Builds the module once per test run and returns its path.
fn module() -> &'static PathBuf {
    static MODULE: OnceLock<PathBuf> = OnceLock::new();
    MODULE.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(workspace())
            .args([
                "build",
                "-p",
                "auditlog-edge",
                "--target",
                "wasm32-wasip1",
                "--release",
            ])
            .status()
            .expect("run cargo");
        assert!(
            status.success(),
            "building the edge module failed (is the wasm32-wasip1 target installed?)"
        );
        let target_dir = std::env::var("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| workspace().join("target"));
        let path = target_dir.join("wasm32-wasip1/release/auditlog-edge.wasm");
        assert!(path.exists(), "{} missing", path.display());
        path
    })
}

fn run_wasm(envelope: &[u8]) -> String {
    run_wasm_with(envelope, &[])
}

fn run_wasm_with(envelope: &[u8], env: &[(&str, &str)]) -> String {
    let mut child = Command::new("node")
        .envs(env.iter().copied())
        .arg("--no-warnings")
        .arg(workspace().join("functions/edge/host/run.mjs"))
        .arg(module())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node must be installed to run the edge module");
    {
        let mut stdin = child.stdin.take().unwrap();
        // The module may stop reading early (oversize input): a broken pipe is fine.
        let _ = stdin.write_all(envelope);
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the module trapped or failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn run_native(envelope: &[u8]) -> String {
    let mut never = || -> u128 { panic!("every test envelope names a request_id or sends ids") };
    handle(
        envelope,
        &Limits::default(),
        &Redactor::default(),
        NOW_MS,
        &mut never,
    )
    .to_json()
}

fn envelope(body: &str) -> Value {
    envelope_at(body, NOW_MS)
}

fn envelope_at(body: &str, now_ms: i64) -> Value {
    json!({
        "headers": {"Content-Type": "application/json", "Authorization": "Bearer alk_test"},
        "body": body,
        "now_ms": now_ms,
        "request_id": "edge-test-1",
    })
}

fn read_ndjson(path: &str) -> Vec<Value> {
    std::fs::read_to_string(fixtures().join(path))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn valid_events() -> Vec<Value> {
    let mut events = Vec::new();
    for name in [
        "valid/minimal.json",
        "valid/full.json",
        "valid/set-password.json",
        "valid/epoch-millis.json",
        "mapped/logger-record.json",
    ] {
        events.push(fixture_json(name));
    }
    for name in [
        "mapped/graphql-request-log.ndjson",
        "mapped/idp-events.ndjson",
        "mapped/app-platform-events.ndjson",
    ] {
        events.extend(read_ndjson(name));
    }
    events
}

/// Every envelope the comparison runs: each fixture alone, all of them in one batch, and every
/// request-level failure.
fn envelopes() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let invalid: Vec<Value> = fixture_json("invalid-events.json")
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["event"].clone())
        .collect();
    for (i, event) in valid_events().iter().chain(invalid.iter()).enumerate() {
        out.push((
            format!("single #{i}"),
            envelope(&event.to_string()).to_string().into_bytes(),
        ));
    }
    let everything: Vec<Value> = valid_events().into_iter().chain(invalid).collect();
    out.push((
        "mixed batch".into(),
        envelope(&json!({ "events": everything }).to_string())
            .to_string()
            .into_bytes(),
    ));
    let logger =
        std::fs::read_to_string(fixtures().join("foreign/logger-record.as-published.txt")).unwrap();
    out.push((
        "published logger record".into(),
        envelope(&logger).to_string().into_bytes(),
    ));
    let mut b64 = envelope("");
    b64.as_object_mut().unwrap().remove("body");
    b64["body_base64"] = json!("eyJhY3Rpb24iOiAidXNlci5sb2dpbiIsICJhY3RvciI6IHsiaWQiOiAieCJ9fQ==");
    out.push(("base64 body".into(), b64.to_string().into_bytes()));
    let mut no_rid = envelope(r#"{"id": "given", "action": "user.login", "actor": {"id": "x"}}"#);
    no_rid.as_object_mut().unwrap().remove("request_id");
    out.push((
        "no request id, id given".into(),
        no_rid.to_string().into_bytes(),
    ));
    let mut text = envelope("{}");
    text["headers"]["Content-Type"] = json!("text/plain");
    out.push(("wrong content type".into(), text.to_string().into_bytes()));
    let mut anonymous = envelope("{}");
    anonymous["headers"]
        .as_object_mut()
        .unwrap()
        .remove("Authorization");
    out.push(("missing key".into(), anonymous.to_string().into_bytes()));
    let mut both = envelope("{}");
    both["body_base64"] = json!("e30=");
    out.push(("two bodies".into(), both.to_string().into_bytes()));
    out.push(("empty body".into(), envelope("").to_string().into_bytes()));
    let many: Vec<Value> = (0..501)
        .map(|i| json!({"id": format!("n{i}"), "action": "a.b", "actor": {"id": "x"}}))
        .collect();
    out.push((
        "too many events".into(),
        envelope(&json!({ "events": many }).to_string())
            .to_string()
            .into_bytes(),
    ));
    out.push((
        "body over 1 MiB".into(),
        envelope(&" ".repeat(1024 * 1024 + 1))
            .to_string()
            .into_bytes(),
    ));
    out.push(("envelope over the cap".into(), vec![b' '; 3 * 1024 * 1024]));
    out.push(("not JSON".into(), b"\x00\xffgarbage".to_vec()));
    out.push((
        "unknown envelope field".into(),
        br#"{"headers": {}, "bodyy": "x"}"#.to_vec(),
    ));
    out.push(("empty input".into(), Vec::new()));
    out
}

#[test]
fn native_and_webassembly_answer_identically() {
    let mut statuses = std::collections::BTreeSet::new();
    for (name, bytes) in envelopes() {
        let native = run_native(&bytes);
        let wasm = run_wasm(&bytes);
        assert_eq!(native, wasm, "{name}");
        let answer: Value = serde_json::from_str(&native).unwrap();
        statuses.insert(answer["status"].as_u64().unwrap());
    }
    // The cases reach every kind of answer.
    assert_eq!(
        statuses.into_iter().collect::<Vec<_>>(),
        vec![200, 207, 400, 401, 413, 415, 422]
    );
}

#[test]
fn request_level_errors_match_the_api() {
    let cases: Vec<(&str, Value, u64, &str)> = vec![
        (
            "logger",
            envelope(
                &std::fs::read_to_string(fixtures().join("foreign/logger-record.as-published.txt"))
                    .unwrap(),
            ),
            400,
            "malformed_json",
        ),
        ("empty", envelope(""), 400, "empty_body"),
    ];
    for (name, env, status, code) in cases {
        let answer: Value = serde_json::from_str(&run_native(env.to_string().as_bytes())).unwrap();
        assert_eq!(answer["status"], status, "{name}");
        assert_eq!(answer["error"]["code"], code, "{name}");
    }
    let answer: Value =
        serde_json::from_str(&run_native(envelopes().last().unwrap().1.as_slice())).unwrap();
    assert_eq!(answer["error"]["code"], "invalid_edge_envelope");
}

#[test]
fn limits_come_from_the_same_variables_as_the_api() {
    // occurred_at ten minutes ahead of the edge clock.
    let body = json!({"id": "skew", "action": "a.b", "actor": {"id": "x"}, "occurred_at": NOW_MS + 600_000}).to_string();
    let bytes = envelope(&body).to_string().into_bytes();
    let default: Value = serde_json::from_str(&run_wasm(&bytes)).unwrap();
    assert_eq!(default["status"], 422);
    assert_eq!(default["items"][0]["errors"][0]["pointer"], "/occurred_at");
    let widened: Value = serde_json::from_str(&run_wasm_with(
        &bytes,
        &[("AUDITLOG_MAX_CLOCK_SKEW", "15m")],
    ))
    .unwrap();
    assert_eq!(widened["status"], 200);
    // A small event (no future time) over a lowered size limit.
    let plain = envelope(r#"{"id": "small", "action": "a.b", "actor": {"id": "x"}}"#)
        .to_string()
        .into_bytes();
    let small: Value = serde_json::from_str(&run_wasm_with(
        &plain,
        &[("AUDITLOG_MAX_EVENT_BYTES", "100")],
    ))
    .unwrap();
    assert_eq!(small["status"], 422, "{small}");
    assert!(
        small["items"][0]["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("limit is 100 bytes"),
        "{small}"
    );
    for (name, value) in [
        ("AUDITLOG_MAX_CLOCK_SKEW", "soon"),
        ("AUDITLOG_MAX_BATCH_EVENTS", "0"),
    ] {
        let broken: Value = serde_json::from_str(&run_wasm_with(&bytes, &[(name, value)])).unwrap();
        assert_eq!(broken["status"], 500, "{name}");
        assert_eq!(broken["error"]["code"], "edge_misconfigured");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_accepts_what_the_edge_forwards_and_stores_the_same_event() {
    let service = TestService::start(&LocalBackend).await;
    let direct_key = service.key("direct", "write,read").await;
    let edge_key = service.key("via-edge", "write,read").await;
    let events = valid_events();

    // The edge stamps missing times with its own clock, which the API checks against its own.
    let edge_now = service.now().millis();
    let edge_answer: Value = serde_json::from_str(&run_native(
        envelope_at(&json!({ "events": events }).to_string(), edge_now)
            .to_string()
            .as_bytes(),
    ))
    .unwrap();
    assert_eq!(edge_answer["status"], 200);
    let forward = edge_answer["forward"].clone();

    let (status, via_edge) = service.post_events(&edge_key, &forward).await;
    assert_eq!(
        status, 201,
        "the API must accept the forwarded batch unchanged: {via_edge}"
    );
    let (status, direct) = service
        .post_events(&direct_key, &json!({ "events": events }))
        .await;
    assert_eq!(status, 201, "{direct}");
    // Masking happened once, at the edge, with the same count the API reports for the originals.
    assert_eq!(
        edge_answer["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["redacted"].as_u64().unwrap_or(0))
            .sum::<u64>(),
        direct["redacted"].as_u64().unwrap()
    );

    for (i, original) in events.iter().enumerate() {
        let edge_id = edge_answer["items"][i]["id"].as_str().unwrap();
        let (_, stored_via_edge) = service
            .get(Some(&edge_key), &format!("/v1/events/{edge_id}"))
            .await;
        // What the edge forwarded is exactly the stored event without the server's fields.
        let mut without_server_fields = stored_via_edge.clone();
        for field in ["schema_version", "tenant", "received_at"] {
            without_server_fields.as_object_mut().unwrap().remove(field);
        }
        assert_eq!(without_server_fields, forward["events"][i], "event {i}");
        // And, where the client fixed the id and time, it is the event the API stores directly.
        if original.get("id").is_some() && original.get("occurred_at").is_some() {
            let (_, stored_direct) = service
                .get(Some(&direct_key), &format!("/v1/events/{edge_id}"))
                .await;
            let mut a = stored_via_edge.clone();
            let mut b = stored_direct.clone();
            for v in [&mut a, &mut b] {
                for field in ["tenant", "received_at"] {
                    v.as_object_mut().unwrap().remove(field);
                }
            }
            assert_eq!(a, b, "event {i}");
        }
    }
}
