//! The edge component, served by real `wasi:http` hosts (`jco serve` and `wasmtime serve`,
//! each test under both), in front of a real `auditlog serve`:
//!
//! - for every request the edge answers itself (request-level errors, a batch with nothing
//!   valid), its answer is the API's for the same request, byte for byte, and the origin never
//!   saw the request (its request log says so);
//! - for the rest, the answer is the API's but for the ids the edge assigned and the receipts
//!   (which cover the tenant and the time received), and what is stored is what the edge
//!   forwarded: masked, read back through the API;
//! - a slow, unreachable or vanishing origin gets a `504` or `502` in the API's error shape.
//!
//! The test builds the component (`wasm32-wasip2`, release, as deployed) and needs both hosts:
//! scripts/jco.sh (npm) and scripts/wasmtime.sh (crates.io) install them and set
//! `AUDITLOG_TEST_JCO` and `AUDITLOG_TEST_WASMTIME`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use auditlog_tests::processes::{EdgeHost, Host, Served};
use auditlog_tests::{fixture_json, fixtures, valid_fixture_events};
use serde_json::{Value, json};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Builds the component once per test run and returns its path.
fn component() -> &'static PathBuf {
    static COMPONENT: OnceLock<PathBuf> = OnceLock::new();
    COMPONENT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(workspace())
            .args([
                "build",
                "-p",
                "auditlog-edge",
                "--target",
                "wasm32-wasip2",
                "--release",
            ])
            .status()
            .expect("run cargo");
        assert!(
            status.success(),
            "building the edge component failed (is the wasm32-wasip2 target installed?)"
        );
        let target_dir = std::env::var("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| workspace().join("target"));
        let path = target_dir.join("wasm32-wasip2/release/auditlog_edge.wasm");
        assert!(path.exists(), "{} missing", path.display());
        path
    })
}

/// One request, as a client sends it.
struct Case {
    name: String,
    method: String,
    path: String,
    content_type: Option<&'static str>,
    /// `None`: no `Authorization` header; `Some("")`: the test's key.
    authorization: Option<String>,
    body: Vec<u8>,
}

impl Case {
    fn post(name: impl Into<String>, body: impl Into<Vec<u8>>) -> Case {
        Case {
            name: name.into(),
            method: "POST".into(),
            path: "/v1/events".into(),
            content_type: Some("application/json"),
            authorization: Some(String::new()),
            body: body.into(),
        }
    }
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

async fn send(client: &reqwest::Client, base: &str, key: &str, case: &Case, rid: &str) -> Answer {
    let method = reqwest::Method::from_bytes(case.method.as_bytes()).unwrap();
    let mut request = client
        .request(method, format!("{base}{}", case.path))
        .header("x-request-id", rid)
        .body(case.body.clone());
    if let Some(ct) = case.content_type {
        request = request.header("content-type", ct);
    }
    match case.authorization.as_deref() {
        Some("") => request = request.header("authorization", format!("Bearer {key}")),
        Some(other) => request = request.header("authorization", other),
        None => {}
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{} ({rid}) to {base}: {e:?}", case.name));
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    Answer {
        status,
        headers,
        body: response.text().await.unwrap(),
    }
}

/// An event read back through the API.
async fn read_event(client: &reqwest::Client, origin: &Served, key: &str, id: &str) -> Value {
    client
        .get(format!("{}/v1/events/{id}", origin.url))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn valid_events() -> Vec<Value> {
    valid_fixture_events()
}

fn invalid_events() -> Vec<Value> {
    fixture_json("invalid-events.json")
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["event"].clone())
        .collect()
}

/// Every request the comparison sends: each fixture alone, all of them in one batch, and every
/// request-level failure.
fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for (i, event) in valid_events().iter().chain(&invalid_events()).enumerate() {
        out.push(Case::post(format!("single #{i}"), event.to_string()));
    }
    let everything: Vec<Value> = valid_events().into_iter().chain(invalid_events()).collect();
    out.push(Case::post(
        "mixed batch",
        json!({ "events": everything }).to_string(),
    ));
    out.push(Case::post(
        "invalid batch",
        json!({ "events": invalid_events() }).to_string(),
    ));
    let logger =
        std::fs::read_to_string(fixtures().join("foreign/logger-record.as-published.txt")).unwrap();
    out.push(Case::post("published logger record", logger));
    out.push(Case {
        content_type: Some("text/plain"),
        ..Case::post("wrong content type", "{}")
    });
    out.push(Case {
        content_type: None,
        ..Case::post("no content type", "{}")
    });
    out.push(Case {
        authorization: None,
        ..Case::post("missing key", "{}")
    });
    out.push(Case {
        authorization: Some("Basic dXNlcjpwdw==".into()),
        ..Case::post("not a bearer key", "{}")
    });
    out.push(Case {
        authorization: Some("Bearer alk_short".into()),
        ..Case::post("not a key's shape", "{}")
    });
    out.push(Case::post("empty body", ""));
    out.push(Case::post("empty batch", r#"{"events": []}"#));
    out.push(Case::post(
        "extra envelope field",
        r#"{"events": [{}], "x": 1}"#,
    ));
    out.push(Case::post("array body", "[]"));
    let many: Vec<Value> = (0..501)
        .map(|i| json!({"id": format!("n{i}"), "action": "a.b", "actor": {"id": "x"}}))
        .collect();
    out.push(Case::post(
        "too many events",
        json!({ "events": many }).to_string(),
    ));
    out.push(Case::post("body over 1 MiB", " ".repeat(1024 * 1024 + 1)));
    out.push(Case::post("not JSON", b"\x00\xffgarbage".to_vec()));
    out
}

/// An answer with the one clock reading in it replaced: a future-dated event's error says how
/// many seconds it is ahead of the clock, and the edge and the API read their clocks a few
/// milliseconds apart, which may fall on either side of a second. Every other byte must match.
fn without_clock(body: &str) -> String {
    const AHEAD: &str = " s after the server's clock";
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(at) = rest.find(AHEAD) {
        let digits = rest[..at]
            .bytes()
            .rev()
            .take_while(u8::is_ascii_digit)
            .count();
        out.push_str(&rest[..at - digits]);
        out.push_str("<seconds>");
        out.push_str(AHEAD);
        rest = &rest[at + AHEAD.len()..];
    }
    out.push_str(rest);
    out
}

#[test]
fn only_the_clock_reading_is_taken_out() {
    assert_eq!(
        without_clock(r#"{"m":"is 30675986644 s after the server's clock; at most 300 s"}"#),
        r#"{"m":"is <seconds> s after the server's clock; at most 300 s"}"#
    );
    assert_eq!(without_clock("no clock 12 s here"), "no clock 12 s here");
}

/// The answer with what legitimately differs between the edge and the API taken out: ids the
/// edge assigned (the API assigns its own) and receipts (they cover the tenant and the time
/// received). Everything else must be equal.
fn comparable(body: &str, case: &Case) -> Value {
    let mut answer: Value = serde_json::from_str(body).unwrap();
    let sent: Value = serde_json::from_slice(&case.body).unwrap_or(Value::Null);
    let sent_items: Vec<Value> = match sent.get("events") {
        Some(Value::Array(items)) => items.clone(),
        _ => vec![sent],
    };
    if let Some(items) = answer["items"].as_array_mut() {
        for (i, item) in items.iter_mut().enumerate() {
            if item.get("sha256").is_some() {
                item["sha256"] = json!("<receipt>");
            }
            let client_id = sent_items.get(i).and_then(|e| e.get("id")).is_some();
            if !client_id && item["status"] != "rejected" {
                item["id"] = json!("<assigned>");
            }
        }
    }
    answer
}

async fn the_edge_answers_as_the_api_and_forwards_only_valid_events(host: Host) {
    let origin = Served::start();
    let edge_key = origin.key("via-edge", "write,read");
    let direct_key = origin.key("direct", "write,read");
    let edge = EdgeHost::start(host, component(), &[("AUDITLOG_ORIGIN_URL", &origin.url)]);
    let client = reqwest::Client::new();
    let cases = cases();
    assert!(cases.len() >= 70, "{} cases", cases.len());
    let mut answered_by_edge = Vec::new();
    let mut statuses = std::collections::BTreeSet::new();
    for (i, case) in cases.iter().enumerate() {
        let rid = format!("case-{i}");
        let via_edge = send(&client, &edge.url, &edge_key, case, &rid).await;
        let direct = send(&client, &origin.url, &direct_key, case, &rid).await;
        assert_eq!(
            via_edge.status, direct.status,
            "{}: {}",
            case.name, via_edge.body
        );
        statuses.insert(direct.status);
        let stored_any = direct.body.contains("\"status\":\"accepted\"");
        if stored_any {
            assert_eq!(
                comparable(&without_clock(&via_edge.body), case),
                comparable(&without_clock(&direct.body), case),
                "{}",
                case.name
            );
        } else {
            assert_eq!(
                without_clock(&via_edge.body),
                without_clock(&direct.body),
                "{}",
                case.name
            );
            answered_by_edge.push(rid.clone());
        }
        for header in ["content-type", "x-request-id", "www-authenticate"] {
            assert_eq!(
                via_edge.headers.get(header),
                direct.headers.get(header),
                "{}: {header}",
                case.name
            );
        }
    }
    // The cases reach every kind of answer.
    assert_eq!(
        statuses.into_iter().collect::<Vec<_>>(),
        vec![201, 207, 400, 401, 413, 415, 422]
    );
    // The origin saw each of those once (sent directly), never from the edge.
    let seen = origin.requests_once(|seen| {
        answered_by_edge
            .iter()
            .all(|rid| seen.iter().any(|e| e["request_id"] == *rid))
    });
    for rid in &answered_by_edge {
        let times = seen.iter().filter(|e| e["request_id"] == *rid).count();
        assert_eq!(times, 1, "{rid} reached the origin {times} times");
    }
    assert!(answered_by_edge.len() > 30, "{}", answered_by_edge.len());
    // The mixed batch: the origin stored everything the edge sent (201), while the same batch
    // sent directly was partly rejected (207): the invalid events never left the edge.
    let mixed = cases.iter().position(|c| c.name == "mixed batch").unwrap();
    let mut answers: Vec<u64> = seen
        .iter()
        .filter(|e| e["request_id"] == format!("case-{mixed}"))
        .map(|e| e["status"].as_u64().unwrap())
        .collect();
    answers.sort_unstable();
    assert_eq!(answers, vec![201, 207]);
}

async fn what_the_edge_forwards_is_stored_masked_and_read_back_through_the_api(host: Host) {
    let origin = Served::start();
    let edge_key = origin.key("via-edge", "write,read");
    let direct_key = origin.key("direct", "write,read");
    let edge = EdgeHost::start(host, component(), &[("AUDITLOG_ORIGIN_URL", &origin.url)]);
    let client = reqwest::Client::new();
    let events = valid_events();
    let batch = Case::post("all valid", json!({ "events": events }).to_string());

    let via_edge = send(&client, &edge.url, &edge_key, &batch, "e2e-edge").await;
    assert_eq!(via_edge.status, 201, "{}", via_edge.body);
    let direct = send(&client, &origin.url, &direct_key, &batch, "e2e-direct").await;
    assert_eq!(direct.status, 201, "{}", direct.body);
    let via_edge: Value = serde_json::from_str(&via_edge.body).unwrap();
    let direct: Value = serde_json::from_str(&direct.body).unwrap();
    // Masking happened once, at the edge, and is counted as the API counts it.
    assert!(via_edge["redacted"].as_u64().unwrap() > 0);
    assert_eq!(via_edge["redacted"], direct["redacted"]);
    assert_eq!(via_edge["request_id"], "e2e-edge");

    for (i, original) in events.iter().enumerate() {
        let id = via_edge["items"][i]["id"].as_str().unwrap();
        let stored = read_event(&client, &origin, &edge_key, id).await;
        assert_eq!(stored["id"], id, "event {i}: {stored}");
        assert_eq!(stored["tenant"], "via-edge");
        assert_eq!(stored["action"], original["action"]);
        assert!(
            !stored.to_string().contains("correct horse battery staple"),
            "event {i}: a secret was stored: {stored}"
        );
        // The receipt the edge relayed is the stored event's.
        assert_eq!(
            via_edge["items"][i]["sha256"].as_str().unwrap(),
            auditlog_core::integrity::receipt(&stored.to_string()).unwrap(),
            "event {i}"
        );
        // Where the client fixed the id and time, it is the event the API stores directly.
        if original.get("id").is_some() && original.get("occurred_at").is_some() {
            let same = read_event(&client, &origin, &direct_key, id).await;
            let (mut a, mut b) = (stored.clone(), same);
            for v in [&mut a, &mut b] {
                for field in ["tenant", "received_at"] {
                    v.as_object_mut().unwrap().remove(field);
                }
            }
            assert_eq!(a, b, "event {i}");
        }
    }
    let password = events.iter().position(|e| e["id"] == "setpw-0001").unwrap();
    assert_eq!(via_edge["items"][password]["redacted"], 1);
}

async fn a_retried_request_stores_each_event_once_and_keys_are_the_origins_to_check(host: Host) {
    let origin = Served::start();
    let key = origin.key("retry", "write,read");
    let edge = EdgeHost::start(host, component(), &[("AUDITLOG_ORIGIN_URL", &origin.url)]);
    let client = reqwest::Client::new();
    // No ids: the edge assigns them from the request id, so the same request id gives the same.
    let case = Case::post(
        "no ids",
        json!({"events": [
            {"action": "user.login", "actor": {"id": "u1"}},
            {"action": "user.logout", "actor": {"id": "u1"}},
            {"action": "BAD"}
        ]})
        .to_string(),
    );
    // A ULID request id (the edge makes one when the client sends none) fixes the ids.
    let rid = ulid::Ulid::new().to_string();
    let first = send(&client, &edge.url, &key, &case, &rid).await;
    std::thread::sleep(Duration::from_millis(5));
    let again = send(&client, &edge.url, &key, &case, &rid).await;
    assert_eq!(first.status, 207, "{}", first.body);
    assert_eq!(again.status, 207, "{}", again.body);
    let first: Value = serde_json::from_str(&first.body).unwrap();
    let again: Value = serde_json::from_str(&again.body).unwrap();
    for i in 0..2 {
        assert_eq!(first["items"][i]["id"], again["items"][i]["id"]);
        assert_eq!(first["items"][i]["status"], "accepted");
        assert_eq!(again["items"][i]["status"], "duplicate");
    }
    assert_eq!(
        (again["accepted"].clone(), again["duplicate"].clone()),
        (json!(0), json!(2))
    );
    assert_eq!(
        again["items"][2]["errors"][0]["pointer"],
        "/events/2/action"
    );

    // A key of the right shape that the origin does not know: the origin's 401, relayed.
    let unknown = format!("alk_0000000000000000_{}", "A".repeat(43));
    let refused = send(
        &client,
        &edge.url,
        &unknown,
        &Case::post(
            "unknown key",
            r#"{"action": "user.login", "actor": {"id": "u1"}}"#,
        ),
        "unknown-key",
    )
    .await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    assert_eq!(refused.headers["www-authenticate"], "Bearer");
    let refused: Value = serde_json::from_str(&refused.body).unwrap();
    assert_eq!(refused["error"]["code"], "invalid_credentials");
    assert_eq!(refused["error"]["request_id"], "unknown-key");
    let checked = |e: &Value| e["request_id"] == "unknown-key" && e["status"] == 401;
    let seen = origin.requests_once(|seen| seen.iter().any(checked));
    assert!(seen.iter().any(checked), "the origin checked the key");
}

async fn full_batches_cross_intact_request_after_request(host: Host) {
    let origin = Served::start();
    let key = origin.key("full", "write,read");
    let edge = EdgeHost::start(host, component(), &[("AUDITLOG_ORIGIN_URL", &origin.url)]);
    let client = reqwest::Client::new();
    let events = valid_events();
    // 500 events (the most a request holds), about 200 KB: bodies that take many writes.
    for round in 0..6 {
        let batch: Vec<Value> = (0..500)
            .map(|i| {
                let mut e = events[i % events.len()].clone();
                e["id"] = json!(format!("full-{round}-{i}"));
                e
            })
            .collect();
        let case = Case::post("full", json!({ "events": batch }).to_string());
        let answer = send(&client, &edge.url, &key, &case, &format!("full-{round}")).await;
        assert_eq!(answer.status, 201, "round {round}: {}", answer.body);
        let body: Value = serde_json::from_str(&answer.body).unwrap();
        assert_eq!(body["accepted"], 500, "round {round}");
    }
}

/// Whether `answer` holds a whole HTTP/1.1 answer: its head, then as many bytes as its
/// `content-length` says, or a chunked body up to its last chunk.
fn answer_complete(answer: &[u8]) -> bool {
    let text = String::from_utf8_lossy(answer);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    let length = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())
            .flatten()
    });
    match length {
        Some(length) => body.len() >= length,
        None => body.ends_with("0\r\n\r\n"),
    }
}

/// One request on an open connection, as a keep-alive client writes it; the answer's status
/// line, read up to the end of its body. Empty when the host closed the connection.
fn exchange(stream: &mut std::net::TcpStream, key: &str, body: &[u8]) -> String {
    let head = format!(
        "POST /v1/events HTTP/1.1\r\nhost: edge\r\ncontent-type: application/json\r\n\
         authorization: Bearer {key}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    // The host may answer and close before the body is all written: what is read says so.
    let _ = stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body));
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !answer_complete(&answer) {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

async fn a_refused_request_leaves_the_connection_usable(host: Host) {
    // The edge refuses an oversized body before reading it. Unless it then reads (and drops)
    // the rest, a host closes the connection under a client that keeps it for its next
    // request: Wasmtime did, most of the time. The API, which the edge mirrors, did too.
    let origin = Served::start();
    let key = origin.key("keepalive", "write,read");
    let closed = format!(
        "http://127.0.0.1:{}",
        auditlog_tests::processes::free_port()
    );
    let edge = EdgeHost::start(
        host,
        component(),
        &[("AUDITLOG_ORIGIN_URL", closed.as_str())],
    );
    for url in [&edge.url, &origin.url] {
        let address = url.trim_start_matches("http://").to_string();
        for round in 0..10 {
            let mut stream = std::net::TcpStream::connect(&address).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let big = vec![b' '; 1024 * 1024 + 1];
            let first = exchange(&mut stream, &key, &big);
            assert!(
                first.starts_with("HTTP/1.1 413"),
                "{url} round {round}: `{first}`"
            );
            let next = exchange(&mut stream, &key, br#"{"action": "BAD"}"#);
            assert!(
                next.starts_with("HTTP/1.1 422"),
                "{url} round {round}: the next request on the connection got `{next}`"
            );
        }
    }
}

async fn other_routes_are_refused_in_the_apis_shape(host: Host) {
    let origin = Served::start();
    let edge = EdgeHost::start(host, component(), &[("AUDITLOG_ORIGIN_URL", &origin.url)]);
    let client = reqwest::Client::new();
    for (method, path, status, code) in [
        ("GET", "/v1/events", 405, "method_not_allowed"),
        ("DELETE", "/v1/events", 405, "method_not_allowed"),
        ("GET", "/v1/keys", 404, "not_found"),
        ("POST", "/v1/destinations", 404, "not_found"),
        ("GET", "/console", 404, "not_found"),
    ] {
        let case = Case {
            method: method.into(),
            path: path.into(),
            ..Case::post(format!("{method} {path}"), "")
        };
        let answer = send(&client, &edge.url, "k", &case, "route").await;
        assert_eq!(answer.status, status, "{method} {path}");
        let body: Value = serde_json::from_str(&answer.body).unwrap();
        assert_eq!(body["error"]["code"], code, "{method} {path}");
        if status == 405 {
            assert_eq!(answer.headers["allow"], "POST");
        }
    }
    assert!(
        origin.requests().iter().all(|e| e["request_id"] != "route"),
        "a refused route reached the origin"
    );
}

/// An origin that misbehaves as the request id asks: `hang` (never answers) or `drop` (reads
/// the request, then closes the connection without a word).
fn faulty_origin() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                while !String::from_utf8_lossy(&seen).contains("\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&seen).to_ascii_lowercase();
                if head.contains("x-request-id: hang") {
                    std::thread::sleep(Duration::from_secs(30));
                } else {
                    let _ = stream.flush();
                }
                drop(stream);
            });
        }
    });
    url
}

async fn a_slow_unreachable_or_vanishing_origin_gets_a_gateway_error_not_a_trap(host: Host) {
    let faulty = faulty_origin();
    let closed = format!(
        "http://127.0.0.1:{}",
        auditlog_tests::processes::free_port()
    );
    let settings = [("AUDITLOG_ORIGIN_TIMEOUT", "1s")];
    let flaky = EdgeHost::start(
        host,
        component(),
        &[settings[0], ("AUDITLOG_ORIGIN_URL", faulty.as_str())],
    );
    let down = EdgeHost::start(
        host,
        component(),
        &[settings[0], ("AUDITLOG_ORIGIN_URL", closed.as_str())],
    );
    let client = reqwest::Client::new();
    let key = format!("alk_0123456789abcdef_{}", "A".repeat(43));
    let event = Case::post("one", r#"{"action": "user.login", "actor": {"id": "u1"}}"#);
    for (edge, rid, status, code) in [
        (&flaky, "hang-1", 504, "origin_timeout"),
        (&flaky, "drop-1", 502, "origin_unreachable"),
        (&down, "down-1", 502, "origin_unreachable"),
        // The host is still fine after each: the same instance answers again.
        (&flaky, "hang-2", 504, "origin_timeout"),
    ] {
        let started = std::time::Instant::now();
        let answer = send(&client, &edge.url, &key, &event, rid).await;
        assert_eq!(answer.status, status, "{rid}: {}", answer.body);
        let body: Value = serde_json::from_str(&answer.body).unwrap();
        assert_eq!(body["error"]["code"], code, "{rid}");
        assert_eq!(body["error"]["request_id"], rid);
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("x-request-id"),
            "{rid}: the answer says how to retry safely: {body}"
        );
        assert!(!answer.body.contains(&key), "{rid}: the key was answered");
        // Bounded by the timeout, not by the origin.
        assert!(started.elapsed() < Duration::from_secs(20), "{rid}");
    }
    // The component wrote nothing of the request to the host's output.
    for line in flaky.printed().iter().chain(down.printed().iter()) {
        assert!(!line.contains(&key), "{line}");
    }
}

async fn limits_and_settings_come_from_the_same_variables_as_the_api(host: Host) {
    let origin = Served::start();
    let key = origin.key("limits", "write,read");
    let client = reqwest::Client::new();
    let small = EdgeHost::start(
        host,
        component(),
        &[
            ("AUDITLOG_ORIGIN_URL", origin.url.as_str()),
            ("AUDITLOG_MAX_EVENT_BYTES", "300"),
            ("AUDITLOG_REDACT_KEYS", "pin"),
        ],
    );
    let big = Case::post(
        "big",
        json!({"id": "big", "action": "a.b", "actor": {"id": "x"}, "metadata": {"note": "x".repeat(400)}})
            .to_string(),
    );
    let answer = send(&client, &small.url, &key, &big, "limit-1").await;
    assert_eq!(answer.status, 422, "{}", answer.body);
    assert!(
        answer.body.contains("limit is 300 bytes"),
        "{}",
        answer.body
    );
    let pin = Case::post(
        "pin",
        json!({"id": "pin", "action": "a.b", "actor": {"id": "x"}, "metadata": {"pin": "1234"}})
            .to_string(),
    );
    let answer = send(&client, &small.url, &key, &pin, "limit-2").await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    let stored = read_event(&client, &origin, &key, "pin").await;
    assert_eq!(stored["metadata"]["pin"], "[REDACTED]", "{stored}");

    for (name, value) in [
        ("AUDITLOG_MAX_CLOCK_SKEW", "soon"),
        ("AUDITLOG_MAX_BATCH_EVENTS", "0"),
        ("AUDITLOG_ORIGIN_URL", "ftp://nowhere"),
    ] {
        let mut env = vec![("AUDITLOG_ORIGIN_URL", origin.url.as_str())];
        env.retain(|(n, _)| *n != name);
        env.push((name, value));
        let broken = EdgeHost::start(host, component(), &env);
        let answer = send(&client, &broken.url, &key, &pin, "broken").await;
        assert_eq!(answer.status, 500, "{name}");
        let body: Value = serde_json::from_str(&answer.body).unwrap();
        assert_eq!(body["error"]["code"], "edge_misconfigured");
        assert!(
            body["error"]["message"].as_str().unwrap().starts_with(name),
            "{body}"
        );
    }
}

#[test]
fn the_spin_manifest_serves_every_route_from_the_built_component() {
    let text = std::fs::read_to_string(workspace().join("functions/edge/spin.toml")).unwrap();
    let manifest: toml::Table = toml::from_str(&text).unwrap();
    assert_eq!(manifest["spin_manifest_version"].as_integer(), Some(2));
    let trigger = &manifest["trigger"]["http"][0];
    assert_eq!(
        trigger["route"].as_str(),
        Some("/..."),
        "the component answers every route"
    );
    let name = trigger["component"].as_str().unwrap();
    let component = &manifest["component"][name];
    // The source is where the build command puts the component.
    let source = workspace()
        .join("functions/edge")
        .join(component["source"].as_str().unwrap());
    let built = component["build"]["command"].as_str().unwrap();
    assert!(built.contains("--target wasm32-wasip2") && built.contains("--release"));
    assert!(
        source.ends_with("target/wasm32-wasip2/release/auditlog_edge.wasm"),
        "{}",
        source.display()
    );
    // The component may reach the origin's host and nothing else.
    let origin = component["environment"]["AUDITLOG_ORIGIN_URL"]
        .as_str()
        .unwrap();
    let allowed: Vec<&str> = component["allowed_outbound_hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    assert_eq!(allowed, vec![origin]);
}

/// Every behaviour above, under each host.
macro_rules! under_each_host {
    ($($name:ident),* $(,)?) => {
        mod jco {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(Host::Jco).await
                }
            )*
        }
        mod wasmtime {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(Host::Wasmtime).await
                }
            )*
        }
    };
}

under_each_host!(
    the_edge_answers_as_the_api_and_forwards_only_valid_events,
    what_the_edge_forwards_is_stored_masked_and_read_back_through_the_api,
    a_retried_request_stores_each_event_once_and_keys_are_the_origins_to_check,
    full_batches_cross_intact_request_after_request,
    a_refused_request_leaves_the_connection_usable,
    other_routes_are_refused_in_the_apis_shape,
    a_slow_unreachable_or_vanishing_origin_gets_a_gateway_error_not_a_trap,
    limits_and_settings_come_from_the_same_variables_as_the_api,
);
