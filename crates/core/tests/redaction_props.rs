//! Property tests for masking: whatever the shape of `request.params` and `metadata`, no value
//! under a secret-looking key survives at any depth, and every other value is untouched.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use auditlog_core::Timestamp;
use auditlog_core::redact::{MASK, Redactor};
use auditlog_core::validate::{IngestContext, Limits, prepare_event};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const SECRET_KEYS: &[&str] = &[
    "password",
    "newPassword",
    "new_password",
    "OLD-PASSWORD",
    "passwd",
    "client_secret",
    "SecretValue",
    "accessToken",
    "refresh_token",
    "X-Api-Key",
    "api_key",
    "APIKEY",
    "Authorization",
    "proxy-authorization",
    "Cookie",
    "set_cookie",
    "privateKey",
    "PRIVATE_KEY",
    "aws_credentials",
    "Credential",
];
const PLAIN_KEYS: &[&str] = &[
    "uid", "name", "email", "items", "path", "count", "key", "pass", "auth", "id",
];

/// Independent statement of the rule: letters and digits only, lowercased, contains a pattern.
fn looks_secret(key: &str) -> bool {
    let n: String = key
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_lowercase();
    [
        "password",
        "passwd",
        "secret",
        "token",
        "apikey",
        "authorization",
        "cookie",
        "privatekey",
        "credential",
    ]
    .iter()
    .any(|p| n.contains(p))
}

fn key_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(SECRET_KEYS).prop_map(str::to_string),
        prop::sample::select(PLAIN_KEYS).prop_map(str::to_string),
        "[a-zA-Z_-]{1,12}",
    ]
}

fn json_strategy() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[ -~]{0,16}".prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key_strategy(), inner), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn object_strategy() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::vec((key_strategy(), json_strategy()), 0..8)
        .prop_map(|e| e.into_iter().collect())
}

/// Checks `after` against `before`: under a secret-looking key the value is the mask; elsewhere
/// every value is what it was. Returns how many masked entries it saw.
fn check(before: &Value, after: &Value) -> Result<usize, String> {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            if b.len() != a.len() {
                return Err("object size changed".into());
            }
            let mut masked = 0;
            for (k, bv) in b {
                let av = a.get(k).ok_or(format!("key {k} vanished"))?;
                if looks_secret(k) {
                    if av != &Value::String(MASK.into()) {
                        return Err(format!("secret-looking key {k} kept {av}"));
                    }
                    masked += 1;
                } else {
                    masked += check(bv, av)?;
                }
            }
            Ok(masked)
        }
        (Value::Array(b), Value::Array(a)) if b.len() == a.len() => {
            b.iter().zip(a).map(|(x, y)| check(x, y)).sum()
        }
        (b, a) if b == a => Ok(0),
        (b, a) => Err(format!("value changed from {b} to {a}")),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn no_secret_survives_and_nothing_else_changes(input in json_strategy()) {
        let mut output = input.clone();
        let count = Redactor::default().redact_value(&mut output);
        let seen = check(&input, &output).map_err(TestCaseError::fail)?;
        prop_assert_eq!(count, seen);
    }

    #[test]
    fn events_are_stored_masked_in_params_and_metadata(params in object_strategy(), metadata in object_strategy()) {
        let limits = Limits { max_free_json_bytes: 1 << 20, max_event_bytes: 1 << 22, max_nesting_depth: 64, ..Limits::default() };
        let redactor = Redactor::default();
        let ctx = IngestContext { tenant: "t", received_at: Timestamp(1_700_000_000_000), limits: &limits, redactor: &redactor };
        let event = json!({"action": "a.b", "actor": {"id": "x"}, "request": {"params": params.clone()}, "metadata": metadata.clone()});
        let prepared = prepare_event(event, "", &ctx, &mut || "id".into()).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        let stored: Value = serde_json::from_str(&prepared.json).unwrap();
        let mut expected_count = 0;
        if !params.is_empty() {
            expected_count += check(&Value::Object(params), &stored["request"]["params"]).map_err(TestCaseError::fail)?;
        }
        if !metadata.is_empty() {
            expected_count += check(&Value::Object(metadata), &stored["metadata"]).map_err(TestCaseError::fail)?;
        }
        prop_assert_eq!(prepared.redacted, expected_count);
    }
}

#[test]
fn the_key_lists_agree_with_the_rule() {
    let r = Redactor::default();
    for k in SECRET_KEYS {
        assert!(looks_secret(k) && r.is_secret_key(k), "{k}");
    }
    for k in PLAIN_KEYS {
        assert!(!looks_secret(k) && !r.is_secret_key(k), "{k}");
    }
}

fn field_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => Just(Value::Null),
        3 => "[a-z]{1,6}(\\.[a-z_]{1,6}){1,2}".prop_map(Value::String),
        2 => "[ -~]{0,10}".prop_map(Value::String),
        1 => "[\\u{0}-\\u{ff}]{0,6}".prop_map(Value::String),
        2 => any::<i64>().prop_map(|n| json!(n)),
        1 => (100u64..700).prop_map(|n| json!(n)),
        1 => Just(json!(1.5)),
        1 => Just(json!("2026-11-21T10:00:00Z")),
        1 => Just(json!("192.0.2.1")),
        1 => Just(json!("a@b.c")),
        1 => Just(json!("user")),
        1 => Just(json!("success")),
        1 => json_strategy(),
    ]
}

fn event_strategy() -> impl Strategy<Value = Value> {
    let actor = prop::collection::btree_map(
        prop::sample::select(vec!["id", "type", "email", "name", "role"]),
        field_value(),
        0..4,
    );
    let nested = |keys: Vec<&'static str>| {
        prop::collection::btree_map(prop::sample::select(keys), field_value(), 0..4)
    };
    (
        prop::collection::btree_map(
            prop::sample::select(vec![
                "id",
                "action",
                "occurred_at",
                "outcome",
                "metadata",
                "tenant",
                "acton",
            ]),
            field_value(),
            0..5,
        ),
        prop::option::of(actor),
        prop::option::of(nested(vec![
            "ip_address",
            "user_agent",
            "request_id",
            "location",
            "ip",
        ])),
        prop::option::of(nested(vec![
            "operation",
            "params",
            "response_code",
            "latency_ms",
        ])),
        prop::option::of(prop::collection::vec(
            nested(vec!["id", "type", "name", "owner"]),
            0..3,
        )),
    )
        .prop_map(|(top, actor, context, request, targets)| {
            let mut event: Map<String, Value> =
                top.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            event.entry("action").or_insert(json!("user.login"));
            let to_obj = |m: std::collections::BTreeMap<&str, Value>| {
                Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            };
            match actor {
                Some(mut a) => {
                    a.entry("id").or_insert(json!("u1"));
                    event.insert("actor".into(), to_obj(a));
                }
                None => {
                    event.insert("actor".into(), json!({"id": "u1"}));
                }
            }
            if let Some(c) = context {
                event.insert("context".into(), to_obj(c));
            }
            if let Some(r) = request {
                event.insert("request".into(), to_obj(r));
            }
            if let Some(t) = targets {
                event.insert(
                    "targets".into(),
                    Value::Array(t.into_iter().map(to_obj).collect()),
                );
            }
            Value::Object(event)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// The typed fast path never accepts what the walker rejects, and when both accept they
    /// store the same bytes: single events and batches alike.
    #[test]
    fn fast_and_slow_paths_agree(events in prop::collection::vec(event_strategy(), 1..4)) {
        use auditlog_core::ingest::{parse_body, prepare_items, prepare_request};
        let limits = Limits::default();
        let redactor = Redactor::default();
        let ctx = IngestContext { tenant: "t", received_at: Timestamp(1_795_305_600_000), limits: &limits, redactor: &redactor };
        let single = serde_json::to_vec(&events[0]).unwrap();
        let batch = serde_json::to_vec(&json!({ "events": events })).unwrap();
        for body in [single, batch] {
            let fast = prepare_request(&body, &ctx, &mut || "GEN".into());
            let slow = parse_body(&body, &limits).map(|(shape, items)| prepare_items(shape, items, &ctx, &mut || "GEN".into()));
            prop_assert_eq!(fast, slow);
        }
    }
}
