use serde_json::json;

use super::*;

const STRICT: AddressPolicy = AddressPolicy {
    allow_http: false,
    allow_private: false,
};

fn pointers(body: Value, author: Author<'_>) -> Vec<String> {
    let mut found: Vec<String> = stream_settings(&body, author, STRICT)
        .err()
        .unwrap_or_default()
        .into_iter()
        .map(|e| e.pointer)
        .collect();
    found.sort();
    found
}

#[test]
fn each_target_reads_with_its_format_filter_and_classes() {
    let webhook = stream_settings(
        &json!({
            "webhook": {"url": "https://hooks.example.com/audit", "secret_env": "AUDITLOG_TENANT_ACME_CO_HOOK"},
            "format": "ocsf",
            "filter": {"exclude": {"actions": ["auditlog.*"]}},
            "ocsf_classes": [{"prefix": "billing.", "class": "api_activity"}]
        }),
        Author::Tenant("acme-co"),
        STRICT,
    );
    let webhook = webhook.unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(webhook.format, Format::Ocsf);
    assert_eq!(webhook.filter.exclude.actions, ["auditlog.*"]);
    assert_eq!(webhook.ocsf.classes.len(), 1);
    assert_eq!(
        webhook.target,
        StreamTarget::Webhook {
            url: "https://hooks.example.com/audit".into(),
            secret: SecretRef::Env("AUDITLOG_TENANT_ACME_CO_HOOK".into()),
            previous_secret: None,
            previous_until: None,
        }
    );
    for body in [
        json!({"splunk": {"url": "https://hec.example.com:8088", "token_env": "AUDITLOG_TENANT_ACME_HEC", "index": "audit"}}),
        json!({"datadog": {"site": "datadoghq.eu", "api_key_env": "AUDITLOG_TENANT_ACME_DD"}}),
        json!({"elasticsearch": {"url": "https://es.example.com:9200", "index": "auditlog-events", "api_key_env": "AUDITLOG_TENANT_ACME_ES"}}),
        json!({"elasticsearch": {"url": "https://es.example.com:9200", "index": "audit", "username": "writer", "password_env": "AUDITLOG_TENANT_ACME_ES_PW"}}),
    ] {
        let read = stream_settings(&body, Author::Tenant("acme"), STRICT);
        assert!(read.is_ok(), "{body}: {read:?}");
        // What is stored reads back the same.
        let stored = serde_json::to_value(read.as_ref().ok()).unwrap_or_default();
        let back: Option<StreamSettings> = serde_json::from_value(stored).unwrap_or_default();
        assert_eq!(back.as_ref(), read.as_ref().ok());
    }
}

#[test]
fn every_problem_is_named() {
    assert_eq!(
        pointers(
            json!({"webhook": {"url": "http://10.0.0.1/", "secret_env": "OTHER_SECRET"}, "format": "xml", "extra": 1}),
            Author::Tenant("acme"),
        ),
        ["/extra", "/format", "/webhook/secret_env", "/webhook/url"]
    );
    assert_eq!(
        pointers(json!({"webhook": {}, "splunk": {}}), Author::Tenant("acme")),
        [""]
    );
    assert_eq!(
        pointers(
            json!({"datadog": {"site": "evil.example.com", "api_key_file": "/run/dd"}}),
            Author::Tenant("acme"),
        ),
        ["/datadog/api_key_file", "/datadog/site"]
    );
    assert_eq!(
        pointers(
            json!({"elasticsearch": {"url": "https://es.example.com", "index": "Audit", "api_key_env": "AUDITLOG_TENANT_ACME_K", "username": "u"}}),
            Author::Tenant("acme"),
        ),
        ["/elasticsearch", "/elasticsearch/index"]
    );
    assert_eq!(
        pointers(
            json!({"webhook": {"url": "https://h.example.com", "secret_env": "AUDITLOG_TENANT_ACME_A", "previous_secret_env": "AUDITLOG_TENANT_ACME_B"}}),
            Author::Tenant("acme"),
        ),
        ["/webhook"],
        "a rotation needs its end"
    );
}

#[test]
fn the_operator_may_name_any_variable_or_a_file() {
    let read = stream_settings(
        &json!({"splunk": {"url": "https://hec.example.com", "token_file": "/run/secrets/hec"}}),
        Author::Operator,
        STRICT,
    );
    assert!(matches!(
        read.map(|s| s.target),
        Ok(StreamTarget::Splunk {
            token: SecretRef::File(_),
            ..
        })
    ));
    assert_eq!(
        pointers(
            json!({"splunk": {"url": "https://hec.example.com", "token_file": "relative"}}),
            Author::Operator,
        ),
        ["/splunk/token_file"]
    );
}
