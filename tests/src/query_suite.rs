//! The read side every store must show through the HTTP API (run by `suite_tests!` with the
//! rest of [`crate::suite`]): cursors, filters, pagination under writes, expiry, request ids,
//! the page byte budget.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::suite::{event, ids, statuses};
use crate::{RETENTION_MS, TestService};

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
