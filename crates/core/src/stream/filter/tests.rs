use serde_json::json;

use super::*;

fn event(action: &str, outcome: Outcome) -> Event {
    crate::event::sample(action, outcome)
}

fn filter(value: serde_json::Value) -> Filter {
    Filter::from_json(&value, "/filter").unwrap_or_else(|e| panic!("{e:?}"))
}

#[test]
fn no_filter_takes_everything() {
    let all = filter(json!({}));
    assert!(all.admits(&event("user.login", Outcome::Success)));
    assert!(all.admits(&event("auditlog.events.listed", Outcome::Failure)));
}

#[test]
fn include_and_exclude_by_action_and_outcome() {
    let f = filter(json!({
        "include": {"actions": ["user.*", "document.deleted"]},
        "exclude": {"actions": ["user.viewed"], "outcomes": ["unknown"]}
    }));
    assert!(f.admits(&event("user.login", Outcome::Success)));
    assert!(f.admits(&event("user.mfa.enabled", Outcome::Failure)));
    assert!(f.admits(&event("document.deleted", Outcome::Success)));
    assert!(!f.admits(&event("document.created", Outcome::Success)));
    assert!(
        !f.admits(&event("user.viewed", Outcome::Success)),
        "excluded by action"
    );
    assert!(
        !f.admits(&event("user.login", Outcome::Unknown)),
        "excluded by outcome"
    );
    // A prefix keeps its dot.
    assert!(!f.admits(&event("username.set", Outcome::Success)));

    let failures = filter(json!({"include": {"outcomes": ["failure"]}}));
    assert!(failures.admits(&event("any.thing", Outcome::Failure)));
    assert!(!failures.admits(&event("any.thing", Outcome::Success)));
}

#[test]
fn every_problem_is_named_by_pointer() {
    let errors = Filter::from_json(
        &json!({
            "include": {"actions": ["User.Login", "user", "*", 3, "ok.fine", "auditlog.*"], "outcomes": ["maybe"]},
            "exclude": {"verbs": []},
            "other": {}
        }),
        "/filter",
    )
    .err()
    .unwrap_or_default();
    // Sorted: object members come in the order the JSON library keeps them.
    let mut pointers: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
    pointers.sort_unstable();
    assert_eq!(
        pointers,
        [
            "/filter/exclude/verbs",
            "/filter/include/actions/0",
            "/filter/include/actions/1",
            "/filter/include/actions/2",
            "/filter/include/actions/3",
            "/filter/include/outcomes/0",
            "/filter/other",
        ]
    );
    let star = errors
        .iter()
        .find(|e| e.pointer == "/filter/include/actions/2");
    assert!(
        star.is_some_and(|e| e.message.contains("leave the list out")),
        "{errors:?}"
    );
    let too_many: Vec<String> = (0..=MAX_PATTERNS).map(|i| format!("a.b{i}")).collect();
    let errors = Filter::from_json(&json!({"include": {"actions": too_many}}), "/filter")
        .err()
        .unwrap_or_default();
    assert_eq!(errors[0].pointer, "/filter/include/actions");
    assert!(Filter::from_json(&json!([]), "/filter").is_err());
}

#[test]
fn a_filter_reads_back_as_it_was_stored() {
    let f = filter(json!({"include": {"actions": ["user.*"], "outcomes": ["failure"]}}));
    let stored = serde_json::to_value(&f).unwrap_or_default();
    assert_eq!(
        stored,
        json!({"include": {"actions": ["user.*"], "outcomes": ["failure"]}})
    );
    assert_eq!(filter(stored), f);
}
