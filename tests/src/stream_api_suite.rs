//! Streams over the API, run per store like the API suite: adding a stream (every bad field
//! named), its status, pause, resume and replay, each with its self-audit record, admin keys
//! only, and another tenant's stream answering 404.

use serde_json::{Value, json};

use crate::TestService;

async fn post(s: &TestService, key: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    s.post_json(key, path, body).await
}

fn pointers(err: &Value) -> Vec<String> {
    err["error"]["details"]
        .as_array()
        .map(|d| {
            d.iter()
                .filter_map(|p| p["pointer"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

pub async fn streams_are_managed_over_the_api_and_recorded(s: &TestService) {
    let admin = s.key("acme", "admin,read").await;
    let writer = s.key("acme", "write,read").await;
    let other = s.key("globex", "admin").await;
    let good = json!({"webhook": {"url": "http://127.0.0.1:9/hook", "secret_env": "AUDITLOG_TENANT_ACME_HOOK"},
        "format": "ocsf", "filter": {"exclude": {"actions": ["auditlog.*"]}}});

    let (status, err) = post(s, &writer, "/v1/streams", Some(good.clone())).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (403, Some("insufficient_scope"))
    );

    // Every problem at once, by pointer; another tenant's secret is refused.
    let (status, err) = post(
        s,
        &admin,
        "/v1/streams",
        Some(json!({"webhook": {"url": "ftp://example.com/x", "secret_env": "AUDITLOG_TENANT_GLOBEX_HOOK"},
            "format": "xml", "filter": {"include": {"actions": ["*"]}}, "colour": 1})),
    )
    .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (422, Some("invalid_destination")),
        "{err}"
    );
    let mut found = pointers(&err);
    found.sort();
    assert_eq!(
        found,
        [
            "/colour",
            "/filter/include/actions/0",
            "/format",
            "/webhook/secret_env",
            "/webhook/url"
        ],
        "{err}"
    );
    // The metadata address is refused even where the operator allows private addresses.
    let (status, err) = post(
        s,
        &admin,
        "/v1/streams",
        Some(json!({"splunk": {"url": "http://169.254.169.254/", "token_env": "AUDITLOG_TENANT_ACME_T"}})),
    )
    .await;
    assert_eq!(
        (status, pointers(&err)),
        (422, vec!["/splunk/url".to_string()]),
        "{err}"
    );

    let (status, added) = post(s, &admin, "/v1/streams", Some(good)).await;
    assert_eq!(status, 201, "{added}");
    assert_eq!(added["kind"], "stream");
    let id = added["id"].as_str().expect("id").to_string();
    let (_, list) = s.get(Some(&admin), "/v1/destinations").await;
    assert!(
        list["destinations"]
            .as_array()
            .is_some_and(|d| d.iter().any(|d| d["id"] == id.as_str()))
    );

    let (status, stream) = s
        .get(Some(&admin), &format!("/v1/destinations/{id}/stream"))
        .await;
    assert_eq!(
        (status, stream["condition"].as_str()),
        (200, Some("active")),
        "{stream}"
    );

    // Another tenant's stream does not exist for this key.
    for path in ["stream", "pause", "resume"] {
        let url = format!("/v1/destinations/{id}/{path}");
        let (status, _) = if path == "stream" {
            s.get(Some(&other), &url).await
        } else {
            post(s, &other, &url, None).await
        };
        assert_eq!(status, 404, "{path}");
    }

    let (status, paused) = post(s, &admin, &format!("/v1/destinations/{id}/pause"), None).await;
    assert_eq!(
        (status, paused["condition"].as_str()),
        (200, Some("paused")),
        "{paused}"
    );
    let (status, resumed) = post(s, &admin, &format!("/v1/destinations/{id}/resume"), None).await;
    assert_eq!(
        (status, resumed["condition"].as_str()),
        (200, Some("active")),
        "{resumed}"
    );
    let replay = format!("/v1/destinations/{id}/replay");
    let (status, err) = post(s, &admin, &replay, Some(json!({"from": "yesterday"}))).await;
    assert_eq!(
        (status, pointers(&err)),
        (422, vec!["/from".to_string()]),
        "{err}"
    );
    let (status, _) = post(
        s,
        &admin,
        &replay,
        Some(json!({"from": "2026-01-01T00:00:00Z"})),
    )
    .await;
    assert_eq!(status, 200);

    // An object store pauses and resumes too (its status says so); replay is for streams.
    let (status, bucket) = post(
        s,
        &admin,
        "/v1/destinations",
        Some(json!({"bucket": "acme-audit"})),
    )
    .await;
    assert_eq!(status, 201, "{bucket}");
    let bucket_id = bucket["id"].as_str().expect("id");
    let control = |verb: &str| format!("/v1/destinations/{bucket_id}/{verb}");
    let (status, paused) = post(s, &admin, &control("pause"), None).await;
    assert_eq!(
        (status, paused["paused"].as_bool()),
        (200, Some(true)),
        "{paused}"
    );
    let (_, shown) = s.get(Some(&admin), &control("status")).await;
    assert_eq!(shown["paused"], true, "{shown}");
    let (status, resumed) = post(s, &admin, &control("resume"), None).await;
    assert_eq!(
        (status, resumed["paused"].as_bool()),
        (200, Some(false)),
        "{resumed}"
    );
    // An object store replays into a replay set of what it delivered: nothing yet here.
    let from = json!({"from": "2026-01-01T00:00:00Z"});
    let (status, err) = post(s, &admin, &control("replay"), Some(from)).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (422, Some("invalid_replay")),
        "{err}"
    );
    assert_eq!(err["error"]["details"][0]["pointer"], "/from", "{err}");
    assert!(
        err["error"]["details"][0]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("nothing has been delivered")),
        "{err}"
    );

    // Each control is in the tenant's log, naming the stream and who acted; never a secret.
    let events = s.all_pages(&admin, "action=auditlog.destination.*").await;
    let actions: Vec<&str> = events
        .iter()
        .filter(|e| e["targets"][0]["id"] == id.as_str())
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(
        actions,
        [
            "auditlog.destination.added",
            "auditlog.destination.paused",
            "auditlog.destination.resumed",
            "auditlog.destination.replayed"
        ]
    );
    let replayed = events
        .iter()
        .find(|e| e["action"] == "auditlog.destination.replayed");
    assert_eq!(
        replayed.map(|e| e["metadata"]["from"].clone()),
        Some(json!("2026-01-01T00:00:00.000Z"))
    );
}
