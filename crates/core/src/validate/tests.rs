use super::rules::{RESERVED_ACTION_PREFIX, check_rule};
use super::walker::{nearest, whole};
use super::*;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Any JSON value, strings with escapes and control characters among them (also used by
/// the canonical-form tests).
pub(crate) fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        any::<String>().prop_map(Value::String),
        "[\"\\\\\\n\\r\\t\\u{0}-\\u{1f}\\u{7f}/é]{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 48, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[test]
fn integers_are_what_json_schema_calls_integers() {
    let number = |text: &str| serde_json::from_str::<serde_json::Number>(text).unwrap();
    assert_eq!(whole(&number("153")), Some(153));
    assert_eq!(whole(&number("153.0")), Some(153));
    assert_eq!(whole(&number("1.53e2")), Some(153));
    assert_eq!(
        whole(&number("18446744073709551615")),
        Some(u64::MAX.into())
    );
    assert_eq!(whole(&number("153.5")), None);
    assert_eq!(whole(&number("1e300")), None);
}

proptest! {
    #[test]
    fn measured_length_is_the_serialized_length(
        entries in prop::collection::btree_map("[a-z\"\\\\]{0,4}", arbitrary_json(), 0..5)
    ) {
        let map: Map<String, Value> = entries.into_iter().collect();
        let (_, len) = measure_object(&map);
        prop_assert_eq!(len, serde_json::to_string(&map).unwrap().len());
    }
}

#[test]
fn depth_counts_objects_and_arrays() {
    let m = |v: Value| match v {
        Value::Object(m) => m,
        _ => unreachable!(),
    };
    assert_eq!(measure_object(&m(json!({}))).0, 1);
    assert_eq!(measure_object(&m(json!({"a": 1}))).0, 1);
    assert_eq!(measure_object(&m(json!({"a": [1]}))).0, 2);
    assert_eq!(measure_object(&m(json!({"a": {"b": [{"c": 1}]}}))).0, 4);
}

#[test]
fn action_rule() {
    for ok in [
        "user.login",
        "project.release",
        "git.commit",
        "a.b.c",
        "user_admin.x-y",
        "s3.put_object",
    ] {
        assert!(check_action(ok).is_ok(), "{ok}");
    }
    for bad in [
        "login",
        "User.login",
        ".a",
        "a.",
        "a..b",
        "1a.b",
        "a.b!",
        "",
        "a b.c",
    ] {
        assert!(check_action(bad).is_err(), "{bad}");
    }
}

/// The rules as first written (splitting, char by char); the one-pass forms above must
/// decide every string the same way.
fn action_by_segments(text: &str) -> bool {
    let segments: Vec<&str> = text.split('.').collect();
    segments.len() >= 2
        && segments.iter().all(|s| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        })
        && text.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && !text.starts_with(RESERVED_ACTION_PREFIX)
}

fn email_by_parts(text: &str) -> bool {
    let mut parts = text.split('@');
    matches!((parts.next(), parts.next(), parts.next()),
        (Some(local), Some(domain), None) if !local.is_empty() && !domain.is_empty())
        && !text.chars().any(|c| c.is_whitespace() || c.is_control())
}

proptest! {
    #[test]
    fn one_pass_rules_agree_with_the_plain_ones(
        text in "[a-z0-9_.@ \\-]{0,12}|[a-zA-Z0-9_.@\\-\t\u{7f}\u{85}\u{a0}é]{0,12}|\\PC{0,10}"
    ) {
        prop_assert_eq!(check_action(&text).is_ok(), action_by_segments(&text), "{:?}", text);
        prop_assert_eq!(
            check_rule(Rule::Email, &text).is_ok(),
            email_by_parts(&text),
            "{:?}",
            text
        );
        prop_assert_eq!(
            check_rule(Rule::Text, &text).is_ok(),
            !text.chars().any(char::is_control),
            "{:?}",
            text
        );
        prop_assert_eq!(
            check_rule(Rule::IdempotencyKey, &text).is_ok(),
            text.bytes().all(|b| b.is_ascii_graphic()),
            "{:?}",
            text
        );
    }
}

#[test]
fn typos_get_a_suggestion_and_strangers_do_not() {
    assert_eq!(nearest("acton", &TOP_LEVEL_FIELDS), Some("action"));
    assert_eq!(
        nearest("occured_at", &TOP_LEVEL_FIELDS),
        Some("occurred_at")
    );
    assert_eq!(nearest("severity", &TOP_LEVEL_FIELDS), None);
}
