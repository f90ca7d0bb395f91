use serde_json::json;

use super::*;
use crate::event::{Actor, Context, Request, Source};
use crate::time::Timestamp;

fn event(action: &str, targets: Vec<Target>) -> Event {
    Event {
        schema_version: 1,
        id: "01J0000000000000000000000A".into(),
        tenant: "acme".into(),
        received_at: Timestamp(1_795_305_600_500),
        occurred_at: Timestamp(1_795_305_600_000),
        action: action.into(),
        actor: Actor {
            id: "u1".into(),
            kind: ActorType::User,
            email: Some("ada@example.com".into()),
            name: Some("Ada".into()),
        },
        outcome: Outcome::Failure,
        targets,
        context: Some(Context {
            ip_address: Some("203.0.113.7".into()),
            user_agent: Some("curl/8".into()),
            request_id: Some("req-1".into()),
            session_id: Some("s-1".into()),
            location: None,
        }),
        source: Some(Source {
            service: Some("billing".into()),
            environment: Some("prod".into()),
            version: None,
        }),
        request: Some(Request {
            operation: Some("POST /invoices".into()),
            params: None,
            response_code: Some(403),
            latency_ms: Some(12),
        }),
        metadata: None,
    }
}

fn target(id: &str, kind: &str) -> Target {
    Target {
        id: id.into(),
        kind: Some(kind.into()),
        name: None,
    }
}

#[test]
fn classes_by_default_and_by_prefix() {
    assert_eq!(default_class("user.login"), OcsfClass::Authentication);
    assert_eq!(
        default_class("sso.session.logout"),
        OcsfClass::Authentication
    );
    assert_eq!(
        default_class("user.password_changed"),
        OcsfClass::AccountChange
    );
    assert_eq!(default_class("account.deleted"), OcsfClass::AccountChange);
    assert_eq!(default_class("invoice.created"), OcsfClass::ApiActivity);
    let mapping = OcsfMapping::from_json(
        &json!([
            {"prefix": "user.", "class": "api_activity"},
            {"prefix": "user.password", "class": "account_change"}
        ]),
        "/ocsf_classes",
    )
    .unwrap_or_default();
    assert_eq!(mapping.class_of("user.viewed"), OcsfClass::ApiActivity);
    // The longest prefix wins.
    assert_eq!(
        mapping.class_of("user.password_changed"),
        OcsfClass::AccountChange
    );
    assert_eq!(mapping.class_of("user.login"), OcsfClass::ApiActivity);
    assert_eq!(mapping.class_of("doc.login"), OcsfClass::Authentication);
}

#[test]
fn bad_class_rules_are_named() {
    let errors = OcsfMapping::from_json(
        &json!([{"prefix": "Billing", "class": "api_activity"}, {"prefix": "x.", "class": "nope"}, 3]),
        "/ocsf_classes",
    )
    .err()
    .unwrap_or_default();
    let pointers: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
    assert_eq!(
        pointers,
        [
            "/ocsf_classes/0/prefix",
            "/ocsf_classes/1",
            "/ocsf_classes/2"
        ]
    );
}

#[test]
fn an_api_activity_record() {
    let record = to_ocsf(
        &event("invoice.deleted", vec![target("inv-9", "invoice")]),
        &OcsfMapping::default(),
    );
    assert_eq!(record["class_uid"], 6003);
    assert_eq!(record["category_uid"], 6);
    assert_eq!(record["activity_id"], 4);
    assert_eq!(record["type_uid"], 600304);
    assert_eq!(record["time"], 1_795_305_600_000i64);
    assert_eq!(record["status_id"], 2);
    assert_eq!(record["metadata"]["uid"], "01J0000000000000000000000A");
    assert_eq!(record["metadata"]["tenant_uid"], "acme");
    assert_eq!(record["metadata"]["version"], OCSF_VERSION);
    assert_eq!(record["actor"]["user"]["uid"], "u1");
    assert_eq!(record["actor"]["session"]["uid"], "s-1");
    assert_eq!(record["api"]["operation"], "POST /invoices");
    assert_eq!(record["api"]["service"]["name"], "billing");
    assert_eq!(record["api"]["response"]["code"], 403);
    assert_eq!(record["src_endpoint"]["ip"], "203.0.113.7");
    assert_eq!(
        record["resources"][0],
        json!({"uid": "inv-9", "type": "invoice"})
    );
    assert_eq!(record["unmapped"]["environment"], "prod");
    assert_eq!(record["duration"], 12);
}

#[test]
fn authentication_and_account_change_records() {
    let login = to_ocsf(&event("user.login", vec![]), &OcsfMapping::default());
    assert_eq!(
        (login["class_uid"].clone(), login["activity_id"].clone()),
        (json!(3002), json!(1))
    );
    assert_eq!(login["user"]["uid"], "u1");
    assert_eq!(
        login["service"],
        json!({"name": "billing"}),
        "the source service"
    );
    let into_app = to_ocsf(
        &event(
            "user.login",
            vec![Target {
                name: Some("Portal".into()),
                ..target("app-1", "application")
            }],
        ),
        &OcsfMapping::default(),
    );
    assert_eq!(
        into_app["service"],
        json!({"uid": "app-1", "name": "Portal"})
    );
    assert!(
        into_app
            .get("unmapped")
            .and_then(|u| u.get("targets"))
            .is_none()
    );
    let change = to_ocsf(
        &event(
            "user.password_reset",
            vec![target("doc-1", "document"), target("u42", "user")],
        ),
        &OcsfMapping::default(),
    );
    assert_eq!(change["class_uid"], 3001);
    assert_eq!(change["activity_id"], 4);
    assert_eq!(change["type_uid"], 300104);
    assert_eq!(
        change["user"]["uid"], "u42",
        "the changed user is the user target"
    );
    assert_eq!(
        change["unmapped"]["targets"],
        json!([{"uid": "doc-1", "type": "document"}])
    );
    // An action the class has no activity for is Other, named by the action.
    let other = to_ocsf(&event("user.exported", vec![]), &OcsfMapping::default());
    assert_eq!(other["activity_id"], 99);
    assert_eq!(other["activity_name"], "user.exported");
    assert_eq!(
        other["user"]["uid"], "u1",
        "no target: the actor's own account"
    );
}
