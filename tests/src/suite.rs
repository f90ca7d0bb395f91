//! The behaviours every store must show through the HTTP API.

use std::collections::{BTreeMap, HashSet};

use serde_json::{Value, json};

use crate::{RETENTION_MS, TestService, fixture_json, fixtures};

fn event(id: &str, action: &str) -> Value {
    json!({"id": id, "action": action, "actor": {"id": "u1"}})
}

/// The ids of the clients' events, in order (the service's own `auditlog.` records, which
/// reads add, are the self-audit suite's business).
fn ids(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| !crate::is_self_audit(e))
        .map(|e| e["id"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn statuses(answer: &Value) -> Vec<String> {
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

pub async fn tampered_or_mismatched_cursors_are_refused(s: &TestService) {
    let key = s.key("acme", "write,read").await;
    let body = json!({"events": (0..3).map(|i| event(&format!("t{i}"), "user.login")).collect::<Vec<_>>()});
    s.post_events(&key, &body).await;
    let (_, page) = s
        .get(Some(&key), "/v1/events?action=user.login&limit=1")
        .await;
    let cursor = page["next_cursor"].as_str().expect("cursor").to_string();
    let mut tampered = cursor.clone().into_bytes();
    tampered[3] = if tampered[3] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ascii");
    let (status, err) = s
        .get(
            Some(&key),
            &format!("/v1/events?action=user.login&limit=1&cursor={tampered}"),
        )
        .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (400, Some("invalid_cursor"))
    );
    let (status, _) = s
        .get(
            Some(&key),
            &format!("/v1/events?action=user.login&limit=1&order=desc&cursor={cursor}"),
        )
        .await;
    assert_eq!(
        status, 400,
        "a cursor only works with the filters it was issued for"
    );
    let (status, next) = s
        .get(
            Some(&key),
            &format!("/v1/events?action=user.login&limit=5&cursor={cursor}"),
        )
        .await;
    assert_eq!(status, 200, "the page size may change between pages");
    assert_eq!(ids(next["events"].as_array().unwrap()), ["t1", "t2"]);
    assert_eq!(next["events"].as_array().unwrap().len(), 2);
}

pub async fn filters_select_exactly_the_matching_events(s: &TestService) {
    let key = s.key("acme", "write,read").await;
    let mut events = Vec::new();
    for (i, action) in [
        "user.login",
        "user.logout",
        "project.release",
        "user_admin.x",
        "git.commit",
    ]
    .iter()
    .enumerate()
    {
        events.push(json!({
            "id": format!("f{i}"),
            "action": action,
            "actor": {"id": format!("actor-{}", i % 2), "email": format!("p{}@example.com", i % 2)},
            "outcome": if i % 2 == 0 { "success" } else { "failure" },
            "targets": [{"id": format!("target-{i}")}, {"id": "shared-target"}],
            "source": {"service": if i < 2 { "auth" } else { "deploy" }},
        }));
    }
    let (status, answer) = s.post_events(&key, &json!({ "events": events })).await;
    assert_eq!(status, 201, "{answer}");

    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("action=user.login", vec!["f0"]),
        ("action=user.*", vec!["f0", "f1"]),
        ("action=user_admin.*", vec!["f3"]),
        ("actor_id=actor-1", vec!["f1", "f3"]),
        ("actor_email=p0%40example.com", vec!["f0", "f2", "f4"]),
        ("target_id=target-2", vec!["f2"]),
        (
            "target_id=shared-target",
            vec!["f0", "f1", "f2", "f3", "f4"],
        ),
        ("outcome=failure", vec!["f1", "f3"]),
        ("source_service=auth", vec!["f0", "f1"]),
        (
            "source_service=deploy&outcome=success&action=git.*",
            vec!["f4"],
        ),
        ("order=desc&action=user.*", vec!["f1", "f0"]),
        ("actor_id=nobody", vec![]),
    ];
    for (query, want) in cases {
        let got = s.client_pages(&key, &format!("limit=2&{query}")).await;
        // Events of one request share received_at; the tie is broken by id.
        assert_eq!(ids(&got), want, "{query}");
    }

    // Time range over received_at: from inclusive, to exclusive.
    let all = s.client_pages(&key, "limit=10").await;
    let received = all[0]["received_at"]
        .as_str()
        .expect("received_at")
        .to_string();
    assert_eq!(
        s.client_pages(&key, &format!("limit=10&from={received}"))
            .await
            .len(),
        5
    );
    assert_eq!(
        s.client_pages(&key, &format!("limit=10&to={received}"))
            .await
            .len(),
        0
    );
}

/// 10,000 events, paged 1,000 at a time in both orders while other writes keep arriving: every
/// event that existed when paging began is seen exactly once.
pub async fn pagination_over_ten_thousand_events_while_writes_continue(s: &TestService) {
    let key = s.key("acme", "write,read").await;
    let mut initial = HashSet::new();
    for batch in 0..20 {
        let events: Vec<Value> = (0..500)
            .map(|i| {
                let id = format!("p{:05}", batch * 500 + i);
                initial.insert(id.clone());
                event(&id, "user.login")
            })
            .collect();
        let (status, answer) = s.post_events(&key, &json!({ "events": events })).await;
        assert_eq!(status, 201, "{answer}");
    }

    for order in ["asc", "desc"] {
        let writer_key = key.clone();
        let base = s.base.clone();
        let client = s.client.clone();
        let writer = tokio::spawn(async move {
            for round in 0..10 {
                let events: Vec<Value> = (0..50)
                    .map(|i| event(&format!("late-{order}-{round}-{i}"), "user.logout"))
                    .collect();
                let response = client
                    .post(format!("{base}/v1/events"))
                    .bearer_auth(&writer_key)
                    .json(&json!({ "events": events }))
                    .send()
                    .await
                    .expect("write");
                assert_eq!(response.status().as_u16(), 201);
            }
        });
        let pages = s
            .all_pages(&key, &format!("limit=1000&order={order}"))
            .await;
        writer.await.expect("writer");
        let seen: Vec<String> = ids(&pages);
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(
            unique.len(),
            seen.len(),
            "{order}: an event came back twice"
        );
        let missing: Vec<&String> = initial.iter().filter(|id| !unique.contains(id)).collect();
        assert!(
            missing.is_empty(),
            "{order}: {} initial events missing, e.g. {:?}",
            missing.len(),
            &missing[..missing.len().min(3)]
        );
        // And the order holds: received_at never goes backwards in asc (or forwards in desc).
        let times: Vec<&str> = pages
            .iter()
            .map(|e| e["received_at"].as_str().unwrap())
            .collect();
        let sorted = times.windows(2).all(|w| {
            if order == "asc" {
                w[0] <= w[1]
            } else {
                w[0] >= w[1]
            }
        });
        assert!(sorted, "{order}: out of order");
    }
}

pub async fn expired_events_are_never_returned_and_are_purged(s: &TestService) {
    let key = s.key("acme", "write,read").await;
    let (status, _) = s.post_events(&key, &event("old-1", "user.login")).await;
    assert_eq!(status, 201);
    s.advance_clock(RETENTION_MS - 60_000);
    let (status, _) = s.post_events(&key, &event("young-1", "user.login")).await;
    assert_eq!(status, 201);
    assert_eq!(s.get(Some(&key), "/v1/events/old-1").await.0, 200);

    s.advance_clock(120_000); // old-1 is now past its retention, young-1 is not
    assert_eq!(s.get(Some(&key), "/v1/events/old-1").await.0, 404);
    assert_eq!(ids(&s.client_pages(&key, "limit=10").await), ["young-1"]);

    // The expired id is free again; nothing else is.
    let (_, answer) = s
        .post_events(
            &key,
            &json!({"events": [event("old-1", "user.login"), event("young-1", "user.login")]}),
        )
        .await;
    assert_eq!(statuses(&answer), ["accepted", "duplicate"]);

    // Everything stored so far goes: what is visible now (the 2 events and the records of
    // every read, this count's own included), and the record of the key's creation, which
    // expired unseen with the first old-1.
    let stored = s.all_pages(&key, "limit=1000").await.len() + 1 + 1;
    s.advance_clock(RETENTION_MS + 60_000);
    let purged = s.store.purge_expired(s.now()).await.expect("purge");
    if s.purges_on_demand {
        assert_eq!(purged, stored as u64);
    }
    assert!(s.client_pages(&key, "limit=10").await.is_empty());
    assert_eq!(s.get(Some(&key), "/v1/events/young-1").await.0, 404);
}

pub async fn responses_carry_a_request_id(s: &TestService) {
    let response = s
        .client
        .get(s.url("/v1/health"))
        .header("x-request-id", "trace-abc-123")
        .send()
        .await
        .expect("get");
    assert_eq!(response.headers()["x-request-id"], "trace-abc-123");
    let response = s
        .client
        .get(s.url("/v1/health"))
        .header("x-request-id", "bad id with spaces")
        .send()
        .await
        .expect("get");
    let id = response.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert_eq!(id.len(), 26, "a fresh ULID replaces an unsafe id: {id}");
}

/// A page stops at the response byte budget (Lambda refuses answers over 6 MB) and carries a
/// cursor instead: 160 events of about 10 KB each, asked for 1,000 at a time, come back over
/// several pages, each within the budget, every event exactly once and in order.
pub async fn pages_stop_at_the_response_byte_budget(s: &TestService) {
    let key = s.key("acme", "write,read").await;
    let padding = "x".repeat(10_000);
    for batch in 0..4 {
        let events: Vec<Value> = (0..40)
            .map(|i| {
                let mut e = event(&format!("big{:03}", batch * 40 + i), "file.upload");
                e["metadata"] = json!({ "note": padding });
                e
            })
            .collect();
        let (status, answer) = s.post_events(&key, &json!({ "events": events })).await;
        assert_eq!(status, 201, "{answer}");
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = "/v1/events?limit=1000&order=asc".to_string();
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let response = s
            .client
            .get(s.url(&path))
            .bearer_auth(&key)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status().as_u16(), 200);
        let text = response.text().await.expect("body");
        assert!(
            text.len() <= crate::MAX_RESPONSE_BYTES,
            "a page of {} bytes is over the {}-byte budget",
            text.len(),
            crate::MAX_RESPONSE_BYTES
        );
        let body: Value = serde_json::from_str(&text).expect("json");
        let events = body["events"].as_array().expect("events");
        assert!(!events.is_empty(), "a page with a cursor holds events");
        seen.extend(ids(events));
        pages += 1;
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let expected: Vec<String> = (0..160).map(|i| format!("big{i:03}")).collect();
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(sorted, expected, "every event exactly once");
    assert!(
        pages >= 4,
        "1.6 MB cannot fit in fewer than 4 pages of 512 KB, got {pages}"
    );
}

pub async fn admin_keys_manage_destinations_and_read_their_status(s: &TestService) {
    let admin = s.key("acme", "admin").await;
    let writer = s.key("acme", "write,read").await;
    let other_admin = s.key("globex", "admin").await;
    let post = |key: String, body: Value| {
        let request = s
            .client
            .post(s.url("/v1/destinations"))
            .bearer_auth(key)
            .json(&body);
        async move {
            let response = request.send().await.unwrap();
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap(),
            )
        }
    };

    // Only admin keys manage destinations.
    let (status, err) = post(writer.clone(), json!({"bucket": "acme-audit"})).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (403, Some("insufficient_scope"))
    );

    // Every bad field is named; a directory cannot be chosen over HTTP.
    let (status, err) = post(
        admin.clone(),
        json!({"bucket": "Bad_Bucket", "role_arn": "arn:aws:iam::111122223333:role/w", "expected_bucket_owner": "12"}),
    )
    .await;
    assert_eq!(status, 422, "{err}");
    let pointers: Vec<&str> = err["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["pointer"].as_str().unwrap())
        .collect();
    assert_eq!(
        pointers,
        ["/bucket", "/external_id", "/expected_bucket_owner"]
    );
    let (status, err) = post(
        admin.clone(),
        json!({"bucket": "acme-audit", "dir": "/etc"}),
    )
    .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (400, Some("malformed_json")),
        "{err}"
    );

    let (status, added) = post(
        admin.clone(),
        json!({"bucket": "acme-audit", "region": "eu-west-1", "role_arn": "arn:aws:iam::111122223333:role/audit-writer", "external_id": "ext-1"}),
    )
    .await;
    assert_eq!(status, 201, "{added}");
    let id = added["id"].as_str().unwrap().to_string();
    assert_eq!(
        added["s3"]["prefix"], "user-events-audit/",
        "the default prefix"
    );
    assert_eq!(added["tenant"], "acme");

    // Status of a destination nothing was exported to yet: the backlog is every event.
    for n in 0..3 {
        let (status, _) = s
            .post_events(&writer, &event(&format!("st-{n}"), "doc.read"))
            .await;
        assert_eq!(status, 201);
    }
    let (status, state) = s
        .get(Some(&admin), &format!("/v1/destinations/{id}/status"))
        .await;
    assert_eq!(status, 200, "{state}");
    assert_eq!(state["events_delivered"], 0);
    assert_eq!(state["objects_delivered"], 0);
    assert_eq!(
        state["backlog"]["events"],
        3 + 4,
        "the 3 events and the service's own 4 records: 2 keys created, the writer's refusal, \
         the destination added; {state}"
    );
    assert_eq!(state["backlog"]["capped"], false);
    assert!(
        state["backlog"]["oldest_unexported_at"].is_string(),
        "{state}"
    );
    assert!(
        state["backlog"]["oldest_unexported_age_seconds"].is_number(),
        "{state}"
    );
    assert_eq!(state["last_error"], Value::Null);
    assert_eq!(state["last_success_at"], Value::Null);

    // Another tenant sees nothing of it, and cannot remove it.
    let (status, list) = s.get(Some(&other_admin), "/v1/destinations").await;
    assert_eq!(
        (status, list["destinations"].as_array().map(Vec::len)),
        (200, Some(0))
    );
    let (status, _) = s
        .get(Some(&other_admin), &format!("/v1/destinations/{id}/status"))
        .await;
    assert_eq!(status, 404);
    let removed = |key: String| {
        let request = s
            .client
            .delete(s.url(&format!("/v1/destinations/{id}")))
            .bearer_auth(key);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(removed(other_admin.clone()).await, 404);

    let (_, list) = s.get(Some(&admin), "/v1/destinations").await;
    assert_eq!(list["destinations"][0]["id"], id.as_str());
    assert_eq!(removed(admin.clone()).await, 204);
    let (_, list) = s.get(Some(&admin), "/v1/destinations").await;
    assert_eq!(list["destinations"].as_array().map(Vec::len), Some(0));
}

/// `GET /v1/integrity/keys` needs no API key (security teams verifying digests hold none), and
/// lists every signing key, retired ones included, each named by its fingerprint and never with
/// its private part; what it lists checks the signatures the store's keys make.
pub async fn the_digest_public_keys_are_published_with_every_rotation(s: &TestService) {
    use auditlog_core::Timestamp;
    use auditlog_core::signing::{PublicKeys, signature_holds};
    let (status, published) = s.get(None, "/v1/integrity/keys").await;
    assert_eq!((status, published), (200, json!({"keys": []})));

    let store = s.store.as_ref();
    let first = auditlog_export::signing_keys::signing_keys(store, Timestamp(1_000))
        .await
        .unwrap();
    let again = auditlog_export::signing_keys::signing_keys(store, Timestamp(2_000))
        .await
        .unwrap();
    assert_eq!(first, again, "the first key is made once");
    let rotated = auditlog_export::signing_keys::rotate(store, Timestamp(3_000))
        .await
        .unwrap();
    let stored = store.signing_keys().await.unwrap();
    assert_eq!(stored.len(), 2);
    assert!(matches!(
        store.add_signing_key(&rotated).await,
        Err(auditlog_core::store::StoreError::Conflict(_))
    ));

    let (status, published) = s.get(None, "/v1/integrity/keys").await;
    assert_eq!(status, 200, "{published}");
    let text = published.to_string();
    for key in &stored {
        assert!(!text.contains(&key.seed), "a private seed was published");
    }
    let keys: PublicKeys = serde_json::from_value(published).unwrap();
    let ids: Vec<&str> = keys.keys.iter().map(|k| k.key_id.as_str()).collect();
    assert_eq!(ids, [first[0].key_id.as_str(), rotated.key_id.as_str()]);
    assert_eq!(keys.keys[1].activated_at, Timestamp(3_000));
    let keyring = keys.keyring().unwrap();
    for key in &stored {
        let signature = key.sign(b"period digest").unwrap();
        assert!(signature_holds(
            &keyring[&key.key_id],
            b"period digest",
            &signature
        ));
    }
}

/// Azure containers over HTTP: the credential only as the exporter's environment variable set
/// for this tenant, the endpoint only an Azure cloud's, every bad field named.
pub async fn azure_destinations_over_http_name_only_the_tenants_own_secrets(s: &TestService) {
    let admin = s.key("acme-eu", "admin").await;
    let post = |body: Value| s.post_json(&admin, "/v1/destinations", Some(body));
    let pointers = |answer: &Value| -> Vec<String> {
        answer["error"]["details"]
            .as_array()
            .map(|d| {
                d.iter()
                    .map(|p| p["pointer"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };

    let (status, added) = post(
        json!({"azure": {"account": "acmeaudit", "container": "audit-log",
        "sas_env": "AUDITLOG_TENANT_ACME_EU_AZURE_SAS"}}),
    )
    .await;
    assert_eq!(status, 201, "{added}");
    assert_eq!(added["kind"], "azure");
    assert_eq!(added["azure"]["prefix"], "user-events-audit/");
    assert_eq!(
        added["azure"]["credential"],
        json!({"kind": "sas", "token": {"env": "AUDITLOG_TENANT_ACME_EU_AZURE_SAS"}})
    );

    let cases = [
        (
            json!({"azure": {"account": "acmeaudit", "container": "audit-log", "sas_env": "AWS_SECRET_ACCESS_KEY"}}),
            vec!["/azure/sas_env"],
        ),
        (
            json!({"azure": {"account": "acmeaudit", "container": "audit-log", "key_env": "AUDITLOG_TENANT_ACME_KEY"}}),
            vec!["/azure/key_env"],
        ),
        (
            json!({"azure": {"account": "acmeaudit", "container": "audit-log", "endpoint": "https://collector.example",
                "sas_env": "AUDITLOG_TENANT_ACME_EU_SAS"}}),
            vec!["/azure/endpoint"],
        ),
        (
            json!({"azure": {"account": "acmeaudit", "container": "audit-log",
                "sas_env": "AUDITLOG_TENANT_ACME_EU_SAS", "key_env": "AUDITLOG_TENANT_ACME_EU_KEY"}}),
            vec!["/azure"],
        ),
        (
            json!({"azure": {"account": "Acme_Audit", "container": "-x", "prefix": "../up",
                "sas_env": "AUDITLOG_TENANT_ACME_EU_SAS"}}),
            vec!["/azure/account", "/azure/container", "/azure/prefix"],
        ),
    ];
    for (body, expected) in cases {
        let (status, answer) = post(body.clone()).await;
        assert_eq!(status, 422, "{body}: {answer}");
        assert_eq!(pointers(&answer), expected, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid_destination");
    }
    for body in [
        json!({"azure": [1, 2]}),
        json!({"azure": {"account": "acmeaudit", "container": "audit-log", "sas_file": "/etc/shadow"}}),
        json!({"azure": {"account": "acmeaudit", "container": "c1c", "sas_env": "AUDITLOG_TENANT_ACME_EU_S"}, "bucket": "b"}),
    ] {
        let (status, answer) = post(body.clone()).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (400, Some("malformed_json")),
            "{body}: {answer}"
        );
    }
    let (_, list) = s.get(Some(&admin), "/v1/destinations").await;
    assert_eq!(list["destinations"].as_array().unwrap().len(), 1, "{list}");
}

/// An object store's compression and filter over HTTP: `gzip` unless `zstd` is asked for, no
/// filter unless one is given, for S3 and Azure alike, kept by the store and shown in every
/// view; anything else named by its pointer.
pub async fn object_stores_choose_their_compression_filter_and_format_once(s: &TestService) {
    let admin = s.key("acme-zstd", "admin").await;
    let post = |body: Value| s.post_json(&admin, "/v1/destinations", Some(body));
    let azure = json!({"account": "acmeaudit", "container": "audit-log",
        "sas_env": "AUDITLOG_TENANT_ACME_ZSTD_SAS"});
    let added = [
        (json!({"bucket": "acme-audit"}), "gzip"),
        (
            json!({"bucket": "acme-audit-z", "compression": "zstd"}),
            "zstd",
        ),
        (
            json!({"bucket": "acme-audit-g", "compression": "gzip"}),
            "gzip",
        ),
        (json!({"azure": azure, "compression": "zstd"}), "zstd"),
        (json!({"azure": azure, "compression": null}), "gzip"),
    ];
    let mut ids = BTreeMap::new();
    for (body, compression) in &added {
        let (status, view) = post(body.clone()).await;
        assert_eq!(status, 201, "{body}: {view}");
        assert_eq!(view["compression"], *compression, "{body}: {view}");
        assert_eq!(view.get("filter"), None, "{body}: {view}");
        assert_eq!(view["format"], "v1", "{body}: {view}");
        ids.insert(view["id"].as_str().unwrap().to_string(), *compression);
    }
    let rules = json!([{"prefix": "billing.", "class": "account_change"}]);
    let (status, view) =
        post(json!({"bucket": "acme-audit-o", "format": "ocsf", "ocsf_classes": rules})).await;
    assert_eq!(status, 201, "{view}");
    assert_eq!(
        (&view["format"], &view["ocsf_classes"]),
        (&json!("ocsf"), &rules)
    );
    ids.insert(view["id"].as_str().unwrap().to_string(), "gzip");
    let (status, view) = post(json!({"azure": azure, "format": "ecs"})).await;
    assert_eq!(status, 201, "{view}");
    assert_eq!(view["format"], "ecs", "{view}");
    ids.insert(view["id"].as_str().unwrap().to_string(), "gzip");
    let filter = json!({"include": {"actions": ["user.*"]}, "exclude": {"outcomes": ["failure"]}});
    let (status, view) =
        post(json!({"bucket": "acme-audit-f", "filter": filter, "compression": "zstd"})).await;
    assert_eq!(status, 201, "{view}");
    assert_eq!(view["filter"], filter, "{view}");
    ids.insert(view["id"].as_str().unwrap().to_string(), "zstd");
    let (status, view) = post(json!({"azure": azure, "filter": {}})).await;
    assert_eq!(status, 201, "{view}");
    assert_eq!(view.get("filter"), None, "an empty filter is none: {view}");
    ids.insert(view["id"].as_str().unwrap().to_string(), "gzip");
    for (body, pointers) in [
        (
            json!({"bucket": "acme-audit", "filter": {"include": {"actions": ["", 3]}}}),
            vec!["/filter/include/actions/0", "/filter/include/actions/1"],
        ),
        (
            json!({"azure": azure, "filter": {"only": []}}),
            vec!["/filter/only"],
        ),
        (
            json!({"bucket": "acme-audit", "filter": "user.*"}),
            vec!["/filter"],
        ),
        (
            json!({"bucket": "acme-audit", "filter": {"exclude": {"outcomes": ["oops"]}}}),
            vec!["/filter/exclude/outcomes/0"],
        ),
        (
            json!({"bucket": "acme-audit", "format": "cef"}),
            vec!["/format"],
        ),
        (
            json!({"bucket": "acme-audit", "format": "ecs", "ocsf_classes": []}),
            vec!["/ocsf_classes"],
        ),
        (
            json!({"azure": azure, "format": "ocsf",
            "ocsf_classes": [{"prefix": "Billing", "class": "api_activity"}, {"prefix": "x"}]}),
            vec!["/ocsf_classes/0/prefix", "/ocsf_classes/1"],
        ),
        (
            json!({"bucket": "acme-audit", "format": 1, "compression": "lz4"}),
            vec!["/compression", "/format"],
        ),
    ] {
        let (status, answer) = post(body.clone()).await;
        assert_eq!(status, 422, "{body}: {answer}");
        let got: Vec<&str> = answer["error"]["details"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["pointer"].as_str().unwrap())
            .collect();
        assert_eq!(got, pointers, "{body}: {answer}");
    }
    for (body, problem) in [
        (
            json!({"bucket": "acme-audit", "compression": "lz4"}),
            "/compression",
        ),
        (
            json!({"bucket": "acme-audit", "compression": 5}),
            "/compression",
        ),
        (
            json!({"azure": azure, "compression": "ZSTD"}),
            "/compression",
        ),
    ] {
        let (status, answer) = post(body.clone()).await;
        assert_eq!(status, 422, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid_destination");
        assert_eq!(
            answer["error"]["details"],
            json!([{"pointer": problem, "message": "`gzip` (the default) or `zstd`"}]),
            "{body}"
        );
    }
    // Read back from the store: each kept what it was added with.
    let (_, list) = s.get(Some(&admin), "/v1/destinations").await;
    let listed: BTreeMap<String, &str> = list["destinations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["id"].as_str().unwrap().to_string(),
                d["compression"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(listed, ids, "{list}");
}
