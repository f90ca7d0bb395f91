//! The behaviours every store must show through the HTTP API.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::{TestService, fixture_json, fixtures};

// The query and destination routes' behaviours, in files of their own; listed with these.
pub use crate::destination_api_suite::*;
pub use crate::query_suite::*;

pub(crate) fn event(id: &str, action: &str) -> Value {
    json!({"id": id, "action": action, "actor": {"id": "u1"}})
}

/// The ids of the clients' events, in order (the service's own `auditlog.` records, which
/// reads add, are the self-audit suite's business).
pub(crate) fn ids(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| !crate::is_self_audit(e))
        .map(|e| e["id"].as_str().unwrap_or_default().to_string())
        .collect()
}

pub(crate) fn statuses(answer: &Value) -> Vec<String> {
    answer["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| i["status"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

pub async fn health_needs_no_key(s: &TestService) {
    let (status, body) = s.get(None, "/v1/health").await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok");
}

pub async fn single_event_is_stored_and_read_back(s: &TestService) {
    let key = s.key("acme", "write,read").await;
    let (status, answer) = s.post_events(&key, &fixture_json("valid/full.json")).await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["accepted"], 1);
    assert_eq!(answer["items"][0]["id"], "evt-2026-11-21-0001");
    assert_eq!(answer["redacted"], 2);

    let (status, stored) = s.get(Some(&key), "/v1/events/evt-2026-11-21-0001").await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored["tenant"], "acme");
    assert_eq!(stored["schema_version"], 1);
    assert_eq!(stored["request"]["params"]["deployToken"], "[REDACTED]");
    assert_eq!(stored["metadata"]["headers"]["Authorization"], "[REDACTED]");
    assert_eq!(stored["targets"][0]["id"], "prj_42");

    // The receipt is the SHA-256 of the stored form's canonical JSON (docs/integrity.md): the
    // stored event read back hashes to it, whatever the order of its members.
    let sha256 = answer["items"][0]["sha256"].as_str().expect("a receipt");
    assert_eq!(sha256.len(), 64);
    assert_eq!(
        auditlog_core::integrity::receipt(&stored.to_string()).unwrap(),
        sha256
    );
    // A resend is a duplicate: nothing new is stored, so it gets no receipt.
    let (status, again) = s.post_events(&key, &fixture_json("valid/full.json")).await;
    assert_eq!(status, 201, "{again}");
    assert_eq!(again["items"][0]["status"], "duplicate");
    assert!(again["items"][0].get("sha256").is_none(), "{again}");

    let (status, missing) = s.get(Some(&key), "/v1/events/no-such-event").await;
    assert_eq!(status, 404);
    assert_eq!(missing["error"]["code"], "event_not_found");
}

pub async fn generated_ids_are_returned_and_usable(s: &TestService) {
    let key = s.key("acme", "write,read").await;
    let (status, answer) = s
        .post_events(&key, &fixture_json("valid/minimal.json"))
        .await;
    assert_eq!(status, 201, "{answer}");
    let id = answer["items"][0]["id"].as_str().expect("id").to_string();
    assert_eq!(id.len(), 26, "a ULID: {id}");
    let (status, stored) = s.get(Some(&key), &format!("/v1/events/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(stored["id"], id.as_str());
}

pub async fn set_password_is_stored_masked(s: &TestService) {
    let key = s.key("acme", "write,read").await;
    let (status, answer) = s
        .post_events(&key, &fixture_json("valid/set-password.json"))
        .await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["items"][0]["redacted"], 1);
    let (_, stored) = s.get(Some(&key), "/v1/events/setpw-0001").await;
    assert_eq!(
        stored["request"]["params"],
        json!({"uid": "u_42", "newPassword": "[REDACTED]"})
    );
}

pub async fn mixed_batch_stores_the_valid_items_and_names_every_rejected_field(s: &TestService) {
    let key = s.key("acme", "write,read").await;
    let body = json!({"events": [
        event("m-1", "user.login"),
        {"id": "m-2", "action": "Login", "actor": {"type": "robot"}, "colour": "red"},
        event("m-3", "user.logout"),
    ]});
    let (status, answer) = s.post_events(&key, &body).await;
    assert_eq!(status, 207, "{answer}");
    assert_eq!(
        (answer["accepted"].as_u64(), answer["rejected"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(statuses(&answer), ["accepted", "rejected", "accepted"]);
    let rejected = &answer["items"][1];
    assert_eq!(rejected["index"], 1);
    assert_eq!(rejected["id"], "m-2");
    let pointers: Vec<&str> = rejected["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    assert_eq!(
        pointers,
        [
            "/events/1/action",
            "/events/1/actor/id",
            "/events/1/actor/type",
            "/events/1/colour"
        ]
    );
    assert!(
        rejected["errors"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| !e["message"].as_str().unwrap().is_empty())
    );

    let stored = s.client_pages(&key, "limit=10").await;
    assert_eq!(ids(&stored), ["m-1", "m-3"]);
}

pub async fn batch_with_nothing_valid_is_422(s: &TestService) {
    let key = s.key("acme", "write,read").await;
    let cases = fixture_json("invalid-events.json");
    let events: Vec<Value> = cases
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["event"].clone())
        .collect();
    let (status, answer) = s.post_events(&key, &json!({ "events": events })).await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["accepted"], 0);
    // Every fixture case comes back with the same pointers, prefixed with its index.
    for (i, case) in cases.as_array().unwrap().iter().enumerate() {
        let item = &answer["items"][i];
        assert_eq!(item["status"], "rejected", "{}", case["name"]);
        let got: Vec<String> = item["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["pointer"].as_str().unwrap().to_string())
            .collect();
        let want: Vec<String> = case["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| format!("/events/{i}{}", e["pointer"].as_str().unwrap()))
            .collect();
        assert_eq!(got, want, "{}", case["name"]);
    }
    let stored = s.client_pages(&key, "limit=10").await;
    assert!(stored.is_empty());
}

pub async fn resent_ids_never_make_a_second_event(s: &TestService) {
    let key = s.key("acme", "write,read").await;
    let (status, first) = s.post_events(&key, &event("dup-1", "user.login")).await;
    assert_eq!(status, 201, "{first}");
    let (status, again) = s.post_events(&key, &event("dup-1", "user.login")).await;
    assert_eq!(status, 201, "a resend is acknowledged: {again}");
    assert_eq!(statuses(&again), ["duplicate"]);
    // The same id twice inside one batch: the first wins.
    let body = json!({"events": [event("dup-2", "user.login"), event("dup-2", "user.changed")]});
    let (status, answer) = s.post_events(&key, &body).await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(statuses(&answer), ["accepted", "duplicate"]);
    let stored = s.client_pages(&key, "limit=100").await;
    assert_eq!(ids(&stored), ["dup-1", "dup-2"]);
    assert_eq!(stored[1]["action"], "user.login");
}

pub async fn concurrent_requests_with_the_same_ids_store_each_event_once(s: &TestService) {
    let key = s.key("acme", "write,read").await;
    let body = json!({"events": (0..50).map(|i| event(&format!("c-{i:02}"), "user.login")).collect::<Vec<_>>()});
    let requests = (0..8).map(|_| s.post_events(&key, &body));
    let answers = futures::future::join_all(requests).await;
    let mut accepted = 0;
    for (status, answer) in &answers {
        assert_eq!(*status, 201, "{answer}");
        accepted += answer["accepted"].as_u64().unwrap();
        assert_eq!(
            answer["accepted"].as_u64().unwrap() + answer["duplicate"].as_u64().unwrap(),
            50
        );
    }
    assert_eq!(
        accepted, 50,
        "each id accepted exactly once across all requests"
    );
    let stored = s.client_pages(&key, "limit=1000").await;
    assert_eq!(stored.len(), 50);
    assert_eq!(ids(&stored).into_iter().collect::<HashSet<_>>().len(), 50);
}

pub async fn tenants_never_see_or_touch_each_other(s: &TestService) {
    let a = s.key("tenant-a", "write,read").await;
    let b = s.key("tenant-b", "write,read").await;
    let (status, _) = s.post_events(&a, &event("shared-id", "user.login")).await;
    assert_eq!(status, 201);
    // B may use the same id: ids are per tenant, and B's write does not touch A's event.
    let (status, answer) = s
        .post_events(&b, &event("shared-id", "project.deleted"))
        .await;
    assert_eq!(status, 201);
    assert_eq!(statuses(&answer), ["accepted"]);
    let (status, only_a) = s.post_events(&a, &event("a-only", "user.logout")).await;
    assert_eq!(status, 201, "{only_a}");

    let (_, a_view) = s.get(Some(&a), "/v1/events/shared-id").await;
    assert_eq!(
        (a_view["tenant"].as_str(), a_view["action"].as_str()),
        (Some("tenant-a"), Some("user.login"))
    );
    let (status, _) = s.get(Some(&b), "/v1/events/a-only").await;
    assert_eq!(status, 404, "B cannot read A's event by id");
    let b_events = s.client_pages(&b, "limit=100").await;
    assert_eq!(ids(&b_events), ["shared-id"]);
    assert!(b_events.iter().all(|e| e["tenant"] == "tenant-b"));

    // A cursor issued to A is refused for B.
    let (_, page) = s.get(Some(&a), "/v1/events?limit=1").await;
    let cursor = page["next_cursor"].as_str().expect("A has two events");
    let (status, err) = s
        .get(Some(&b), &format!("/v1/events?limit=1&cursor={cursor}"))
        .await;
    assert_eq!(status, 400);
    assert_eq!(err["error"]["code"], "invalid_cursor");

    // A client cannot pick its tenant.
    let mut forged = event("forged", "user.login");
    forged["tenant"] = json!("tenant-a");
    let (status, answer) = s.post_events(&b, &forged).await;
    assert_eq!(status, 422);
    assert_eq!(answer["items"][0]["errors"][0]["pointer"], "/tenant");
}

pub async fn keys_need_the_right_scope_and_must_be_live(s: &TestService) {
    let writer = s.key("acme", "write").await;
    let reader = s.key("acme", "read").await;
    let (status, err) = s.get(Some(&writer), "/v1/events").await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (403, Some("insufficient_scope"))
    );
    let (status, err) = s.post_events(&reader, &event("x-1", "user.login")).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (403, Some("insufficient_scope"))
    );

    let (status, err) = s.get(None, "/v1/events").await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (401, Some("missing_credentials"))
    );
    for bad in [
        "alk_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "nonsense",
        "",
    ] {
        let (status, err) = s.get(Some(bad), "/v1/events").await;
        assert_eq!(
            (status, err["error"]["code"].as_str()),
            (401, Some("invalid_credentials")),
            "{bad}"
        );
    }
    // A key with the right id but a wrong secret.
    let mut wrong = reader.clone();
    wrong.replace_range(wrong.len() - 4.., "AAAA");
    let (status, _) = s.get(Some(&wrong), "/v1/events").await;
    assert_eq!(status, 401);

    // Revocation takes effect at once.
    let key_id = reader.split('_').nth(1).expect("key id").to_string();
    let record = s.store.find_key(&key_id).await.expect("find").expect("key");
    let audit = crate::operator_record(
        &record.tenant,
        auditlog_core::self_audit::key_revoked(crate::harness_operator(), &record),
        s.now().0,
    );
    assert!(
        s.store
            .revoke_key(&key_id, s.now(), &audit)
            .await
            .expect("revoke")
    );
    let (status, _) = s.get(Some(&reader), "/v1/events").await;
    assert_eq!(status, 401);
}

pub async fn bad_requests_get_json_errors_with_stable_codes(s: &TestService) {
    let key = s.key("acme", "write,read").await;
    let ok = event("b-1", "user.login").to_string().into_bytes();

    let (status, err) = s.post_raw(&key, "text/plain", ok.clone()).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (415, Some("unsupported_media_type"))
    );
    let (status, _) = s
        .post_raw(&key, "application/json; charset=utf-8", ok)
        .await;
    assert_eq!(status, 201);

    let logger =
        std::fs::read(fixtures().join("foreign/logger-record.as-published.txt")).expect("fixture");
    let (status, err) = s.post_raw(&key, "application/json", logger).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (400, Some("malformed_json"))
    );
    assert_eq!(err["error"]["details"], json!({"line": 18, "column": 1}));
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("trailing comma")
    );

    let (status, err) = s.post_raw(&key, "application/json", Vec::new()).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (400, Some("empty_body"))
    );

    let huge = format!(
        "{{\"events\": [{}]}}",
        vec![r#"{"action":"a.b","actor":{"id":"x"}}"#; 30_000].join(",")
    );
    assert!(huge.len() > 1024 * 1024);
    let (status, err) = s
        .post_raw(&key, "application/json", huge.into_bytes())
        .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (413, Some("body_too_large"))
    );

    let many =
        json!({"events": (0..501).map(|i| event(&format!("n{i}"), "a.b")).collect::<Vec<_>>()});
    let (status, err) = s.post_events(&key, &many).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (413, Some("too_many_events"))
    );

    let (status, err) = s.post_events(&key, &json!([event("arr", "a.b")])).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (400, Some("invalid_envelope"))
    );

    let (status, err) = s.get(Some(&key), "/v1/nowhere").await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let response = s
        .client
        .delete(s.url("/v1/events"))
        .bearer_auth(&key)
        .send()
        .await
        .expect("delete");
    assert_eq!(response.status().as_u16(), 405);
    assert!(response.headers().contains_key("x-request-id"));
    let err: Value = response.json().await.expect("json");
    assert_eq!(err["error"]["code"], "method_not_allowed");
    assert!(!err["error"]["request_id"].as_str().unwrap().is_empty());

    let (status, err) = s
        .get(Some(&key), "/v1/events?limit=0&colour=red&outcome=ok")
        .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (400, Some("invalid_query"))
    );
    let names: Vec<&str> = err["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["parameter"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["limit", "colour", "outcome"]);

    let (status, err) = s.get(Some(&key), "/v1/events?cursor=not-a-cursor").await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (400, Some("invalid_cursor"))
    );
}
