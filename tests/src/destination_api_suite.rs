//! The destination routes' behaviours every store must show through the HTTP API (run by
//! `suite_tests!` with the rest of [`crate::suite`]): admin keys manage destinations and read
//! their status, digest public keys, Azure destinations' secrets, object-store options.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::TestService;
use crate::suite::event;

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
