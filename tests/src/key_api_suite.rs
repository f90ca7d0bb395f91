//! The key routes on every store: admin keys list, make and revoke their tenant's keys over
//! the API, each change recorded in the tenant's log (run with the self-audit behaviours,
//! re-exported by `self_audit_suite`).

use serde_json::{Value, json};

use crate::TestService;
use crate::self_audit_suite::{key_id, only, records};

/// Admin keys list, make and revoke their tenant's keys over the API; each change is recorded
/// with the admin key as its actor; no answer or record holds a key's secret or hash.
pub async fn keys_are_managed_over_the_api_and_recorded(s: &TestService) {
    let admin = s.key("acme", "admin").await;
    let reader = s.key("acme", "read").await;
    let rival = s.key("globex", "admin").await;
    let post = |key: String, body: Value| {
        let request = s
            .client
            .post(s.url("/v1/keys"))
            .bearer_auth(key)
            .json(&body);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let cache = response
                .headers()
                .get("cache-control")
                .map(|v| v.to_str().unwrap().to_string());
            (status, cache, response.json::<Value>().await.unwrap())
        }
    };
    let delete = |key: String, id: String| {
        let request = s
            .client
            .delete(s.url(&format!("/v1/keys/{id}")))
            .bearer_auth(key);
        async move { request.send().await.unwrap().status().as_u16() }
    };

    // Every bad field is named; only admin keys may do it.
    let (status, _, err) = post(
        admin.clone(),
        json!({"scopes": ["read", "root"], "label": "bad\nlabel"}),
    )
    .await;
    assert_eq!(status, 422, "{err}");
    let pointers: Vec<&str> = err["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["pointer"].as_str().unwrap())
        .collect();
    assert_eq!(pointers, ["/scopes/1", "/label"]);
    let (status, _, err) = post(admin.clone(), json!({"scopes": []})).await;
    assert_eq!(
        (status, &err["error"]["details"][0]["pointer"]),
        (422, &json!("/scopes"))
    );
    let (status, _, err) = post(
        admin.clone(),
        json!({"scopes": ["read"], "tenant": "globex"}),
    )
    .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (400, Some("malformed_json")),
        "a tenant cannot be named: {err}"
    );
    let (status, _, _) = post(reader.clone(), json!({"scopes": ["read"]})).await;
    assert_eq!(status, 403);

    // Made once: the key works at once for its scopes, and is never shown again.
    let (status, cache, made) = post(
        admin.clone(),
        json!({"scopes": ["write", "read", "write"], "label": "siem"}),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(cache.as_deref(), Some("no-store"));
    assert_eq!(made["scopes"], json!(["write", "read"]));
    assert_eq!(made["label"], "siem");
    assert!(
        made.get("hash").is_none() && made.get("tenant").is_none(),
        "{made}"
    );
    let new_key = made["key"].as_str().unwrap().to_string();
    let new_id = made["key_id"].as_str().unwrap().to_string();
    assert_eq!(key_id(&new_key), new_id);
    assert_eq!(
        s.post_events(
            &new_key,
            &json!({"action": "doc.viewed", "actor": {"id": "u"}})
        )
        .await
        .0,
        201
    );

    let (status, list) = s.get(Some(&admin), "/v1/keys").await;
    assert_eq!(status, 200, "{list}");
    let ids: Vec<&str> = list["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["key_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3, "{list}");
    assert!(ids.contains(&new_id.as_str()) && ids.contains(&key_id(&reader).as_str()));
    let text = list.to_string();
    assert!(!text.contains(&new_key) && !text.contains("hash"), "{list}");
    let (status, theirs) = s.get(Some(&rival), "/v1/keys").await;
    assert_eq!(status, 200);
    assert_eq!(theirs["keys"].as_array().unwrap().len(), 1, "{theirs}");

    // Another tenant's admin cannot revoke it; this tenant's can, and it stops at once.
    assert_eq!(delete(rival.clone(), new_id.clone()).await, 404);
    assert_eq!(delete(admin.clone(), "0000000000000000".into()).await, 404);
    assert_eq!(delete(admin.clone(), new_id.clone()).await, 204);
    assert_eq!(s.get(Some(&new_key), "/v1/events").await.0, 401);
    let (_, list) = s.get(Some(&admin), "/v1/keys").await;
    let revoked = list["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key_id"] == new_id.as_str())
        .cloned()
        .unwrap();
    assert!(revoked["revoked_at"].is_string(), "{revoked}");

    let made = records(s, &reader, "auditlog.key.created").await;
    let by_api: Vec<&Value> = made
        .iter()
        .filter(|r| r["metadata"]["via"] == "api_key")
        .collect();
    assert_eq!(by_api.len(), 1, "{made:#?}");
    assert_eq!(by_api[0]["actor"]["id"], key_id(&admin).as_str());
    assert_eq!(
        by_api[0]["targets"],
        json!([{"id": new_id, "type": "api_key", "name": "siem"}])
    );
    assert_eq!(by_api[0]["metadata"]["scopes"], json!(["write", "read"]));
    let revoked = only(s, &reader, "auditlog.key.revoked").await;
    assert_eq!(revoked["actor"]["id"], key_id(&admin).as_str());
    assert_eq!(revoked["targets"][0]["id"], new_id.as_str());
    let all = s.all_pages(&reader, "action=auditlog.*&limit=1000").await;
    assert!(
        !serde_json::to_string(&all).unwrap().contains(&new_key),
        "no record holds the key"
    );
}
