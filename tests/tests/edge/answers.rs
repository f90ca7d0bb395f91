//! What the edge answers, byte for byte against the API, what it forwards and what the origin
//! stores.

use std::time::Duration;

use auditlog_tests::processes::{EdgeHost, Host, Served};
use serde_json::{Value, json};

use crate::*;

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

pub(crate) async fn the_edge_answers_as_the_api_and_forwards_only_valid_events(host: Host) {
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

pub(crate) async fn what_the_edge_forwards_is_stored_masked_and_read_back_through_the_api(
    host: Host,
) {
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

pub(crate) async fn a_retried_request_stores_each_event_once_and_keys_are_the_origins_to_check(
    host: Host,
) {
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

pub(crate) async fn full_batches_cross_intact_request_after_request(host: Host) {
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
