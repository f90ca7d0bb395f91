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
