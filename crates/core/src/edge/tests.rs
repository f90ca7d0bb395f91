use super::*;

const NOW: i64 = 1_795_305_600_000;

fn key_header() -> String {
    format!("Bearer alk_0123456789abcdef_{}", "A".repeat(43))
}

fn run(body: &str, rid: &str) -> Decision {
    decide(
        body.as_bytes(),
        &Limits::default(),
        &Redactor::default(),
        NOW,
        rid,
    )
}

#[test]
fn only_post_to_the_ingest_path_is_served() {
    assert_eq!(route("POST", "/v1/events"), Route::Ingest);
    assert_eq!(route("GET", "/v1/events"), Route::MethodNotAllowed);
    assert_eq!(route("POST", "/v1/events/"), Route::NotFound);
    assert_eq!(route("POST", "/v1/keys"), Route::NotFound);
    assert!(refuse_route(Route::Ingest, "r").is_none());
    let refused = refuse_route(Route::NotFound, "r").map(|a| (a.status, a.body));
    assert_eq!(
        refused,
        Some((
            404,
            r#"{"error":{"code":"not_found","message":"the edge serves only POST /v1/events; send other requests to the regional API","request_id":"r"}}"#.into()
        ))
    );
}

#[test]
fn a_plain_request_id_is_kept_and_any_other_replaced_by_a_ulid() {
    assert_eq!(request_id(Some("abc-123_X"), NOW, 7), "abc-123_X");
    for bad in [None, Some(""), Some("has space"), Some(&*"x".repeat(65))] {
        let made = request_id(bad, NOW, 7);
        let ulid = ulid::Ulid::from_string(&made).map(|u| u.timestamp_ms());
        assert_eq!(ulid, Ok(NOW as u64), "{bad:?}");
    }
}

#[test]
fn headers_are_checked_in_the_apis_order() {
    let key = key_header();
    let check = |auth: Option<&str>, ct: Option<&str>, len: Option<&str>| {
        let headers = Headers {
            authorization: auth.map(str::as_bytes),
            content_type: ct,
            content_length: len,
        };
        check_headers(headers, &Limits::default(), "r").map(|a| {
            let body: serde_json::Value = serde_json::from_str(&a.body).unwrap_or_default();
            (
                a.status,
                body["error"]["code"].as_str().unwrap_or("").to_string(),
            )
        })
    };
    let json = Some("application/json");
    assert_eq!(check(Some(&key), json, Some("10")), None);
    assert_eq!(
        check(None, None, None),
        Some((401, "missing_credentials".into()))
    );
    assert_eq!(
        check(Some("Basic x"), json, None),
        Some((401, "invalid_credentials".into()))
    );
    assert_eq!(
        check(Some("Bearer alk_x"), json, None),
        Some((401, "invalid_credentials".into()))
    );
    assert_eq!(
        check(Some(&key), Some("text/plain"), None),
        Some((415, "unsupported_media_type".into()))
    );
    assert_eq!(
        check(Some(&key), json, Some("999999999")),
        Some((413, "body_too_large".into()))
    );
}

#[test]
fn valid_items_are_forwarded_masked_and_rejected_ones_kept_back() {
    let body = r#"{"events": [
        {"action": "user.login", "actor": {"id": "u1"}, "metadata": {"password": "hunter2"}},
        {"action": "BAD"}
    ]}"#;
    let Decision::Forward {
        body: forward,
        pending,
    } = run(body, "r1")
    else {
        panic!("a batch with a valid item is forwarded");
    };
    assert!(!forward.contains("hunter2"), "{forward}");
    assert!(forward.contains("[REDACTED]"), "{forward}");
    assert!(
        !forward.contains("BAD"),
        "a rejected item is not forwarded: {forward}"
    );
    let items = pending.items();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].redacted, 1);
    assert_eq!(items[1].errors[0].pointer, "/events/1/action");
    // The same request id, the same ids: a retry is stored once.
    let Decision::Forward { pending: again, .. } = run(body, "r1") else {
        panic!("forwarded");
    };
    assert_eq!(again.items()[0].id, items[0].id);
    let Decision::Forward { pending: other, .. } = run(body, "r2") else {
        panic!("forwarded");
    };
    assert_ne!(other.items()[0].id, items[0].id);
}

#[test]
fn nothing_valid_is_answered_at_the_edge_as_the_api_answers_it() {
    let Decision::Answer(answer) = run(r#"{"action": "BAD"}"#, "r") else {
        panic!("nothing to forward");
    };
    assert_eq!(answer.status, 422);
    assert!(
        answer
            .body
            .starts_with(r#"{"request_id":"r","accepted":0,"duplicate":0,"rejected":1"#),
        "{}",
        answer.body
    );
    let Decision::Answer(answer) = run("{nope", "r") else {
        panic!("malformed");
    };
    assert_eq!(answer.status, 400);
    assert!(answer.body.contains(r#""code":"malformed_json""#));
    assert!(
        answer.body.contains(r#""details":{"column":2,"line":1}"#),
        "{}",
        answer.body
    );
}

#[test]
fn the_origins_answer_is_merged_or_relayed() {
    let body = r#"{"action": "user.login", "actor": {"id": "u1"}, "id": "e1"}"#;
    let Decision::Forward { pending, .. } = run(body, "r") else {
        panic!("forwarded");
    };
    let origin = r#"{"request_id":"r","accepted":0,"duplicate":0,"rejected":1,"failed":0,"redacted":0,
        "items":[{"index":0,"id":"e1","status":"rejected","errors":[{"pointer":"/events/0/action","message":"no"}]}]}"#;
    let merged = relay(pending.clone(), 422, origin.as_bytes()).map(|a| (a.status, a.body));
    let merged = merged.unwrap_or_default();
    assert_eq!(merged.0, 422);
    assert!(
        merged.1.contains(r#""pointer":"/action""#),
        "a bare event's pointer: {}",
        merged.1
    );
    // Not an answer for the items: relayed as it is.
    let refused = r#"{"error":{"code":"invalid_credentials","message":"the API key is not valid","request_id":"r"}}"#;
    assert!(relay(pending.clone(), 401, refused.as_bytes()).is_none());
    assert!(relay(pending, 201, b"not json").is_none());
}

#[test]
fn the_retry_advice_says_what_makes_a_retry_safe() {
    let ulid = ulid::Ulid::from_parts(NOW as u64, 1).to_string();
    assert!(retry_advice(&ulid).contains(&format!("x-request-id: {ulid}")));
    assert!(retry_advice("plain").contains("stored once however often"));
}
