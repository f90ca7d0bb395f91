//! Events as Elastic Common Schema documents, for Elasticsearch and OpenSearch. Every field is
//! an ECS field of the version in [`ECS_VERSION`] (the tests check names, types, arrays and
//! allowed values against its published definitions, tests/support/ecs), except the custom
//! `auditlog.*` namespace, which holds what ECS has no field for: targets, request parameters,
//! metadata, the request and session ids, the location.

use serde_json::{Map, Value, json};

use super::verb::{Verb, verb_of};
use crate::event::{ActorType, Event};

/// The ECS version the documents follow (`ecs.version`).
pub const ECS_VERSION: &str = "9.4.0";

/// `event.category` and `event.type` for an action: authentication for log in and out, iam for
/// changes to users and accounts, api for everything else (ECS's category for API calls).
fn categorize(action: &str) -> (&'static str, Vec<&'static str>) {
    let verb = verb_of(action);
    match verb {
        Verb::Login => ("authentication", vec!["start"]),
        Verb::Logout => ("authentication", vec!["end"]),
        _ if action.starts_with("user.") || action.starts_with("account.") => {
            let change = match verb {
                Verb::Create => "creation",
                Verb::Delete => "deletion",
                Verb::Read => "info",
                _ => "change",
            };
            ("iam", vec!["user", change])
        }
        _ => {
            let kind = match verb {
                Verb::Create => "creation",
                Verb::Read => "access",
                Verb::Delete => "deletion",
                Verb::Other => "info",
                _ => "change",
            };
            ("api", vec![kind])
        }
    }
}

fn insert_some(map: &mut Map<String, Value>, key: &str, value: Option<&str>) {
    if let Some(value) = value {
        map.insert(key.into(), json!(value));
    }
}

/// The event as an ECS document.
pub fn to_ecs(event: &Event) -> Value {
    let (category, types) = categorize(&event.action);
    let mut doc = Map::new();
    doc.insert("@timestamp".into(), json!(event.occurred_at.to_rfc3339()));
    doc.insert("ecs".into(), json!({ "version": ECS_VERSION }));
    let mut ecs_event = json!({
        "id": event.id,
        "action": event.action,
        "outcome": event.outcome.as_str(),
        "kind": "event",
        "category": [category],
        "type": types,
        "created": event.received_at.to_rfc3339(),
        "dataset": "auditlog.events",
    });
    if let Some(ms) = event.request.as_ref().and_then(|r| r.latency_ms) {
        // ECS durations are nanoseconds.
        ecs_event["duration"] = json!(ms.saturating_mul(1_000_000));
    }
    if let Some(service) = event.source.as_ref().and_then(|s| s.service.as_deref()) {
        ecs_event["provider"] = json!(service);
    }
    doc.insert("event".into(), ecs_event);

    let mut user = Map::new();
    user.insert("id".into(), json!(event.actor.id));
    insert_some(&mut user, "name", event.actor.name.as_deref());
    insert_some(&mut user, "email", event.actor.email.as_deref());
    let mut related = vec![event.actor.id.clone()];
    if category == "iam"
        && let Some(target) = event.targets.first()
    {
        let mut changed = Map::new();
        changed.insert("id".into(), json!(target.id));
        insert_some(&mut changed, "name", target.name.as_deref());
        user.insert("target".into(), Value::Object(changed));
        related.push(target.id.clone());
    }
    doc.insert("user".into(), Value::Object(user));
    related.dedup();
    doc.insert("related".into(), json!({ "user": related }));
    doc.insert("organization".into(), json!({ "id": event.tenant }));

    if let Some(context) = &event.context {
        if let Some(ip) = &context.ip_address {
            doc.insert("source".into(), json!({ "ip": ip }));
        }
        if let Some(agent) = &context.user_agent {
            doc.insert("user_agent".into(), json!({ "original": agent }));
        }
    }
    if let Some(code) = event.request.as_ref().and_then(|r| r.response_code) {
        doc.insert(
            "http".into(),
            json!({ "response": { "status_code": code } }),
        );
    }
    if let Some(source) = &event.source {
        let mut service = Map::new();
        insert_some(&mut service, "name", source.service.as_deref());
        insert_some(&mut service, "environment", source.environment.as_deref());
        insert_some(&mut service, "version", source.version.as_deref());
        if !service.is_empty() {
            doc.insert("service".into(), Value::Object(service));
        }
    }
    doc.insert("auditlog".into(), custom(event));
    Value::Object(doc)
}

/// The `auditlog.*` namespace: what ECS has no field for.
fn custom(event: &Event) -> Value {
    let mut custom = Map::new();
    let actor_type = match event.actor.kind {
        ActorType::User => "user",
        ActorType::Service => "service",
        ActorType::System => "system",
    };
    custom.insert("actor_type".into(), json!(actor_type));
    if !event.targets.is_empty() {
        custom.insert("targets".into(), json!(event.targets));
    }
    if let Some(context) = &event.context {
        insert_some(&mut custom, "request_id", context.request_id.as_deref());
        insert_some(&mut custom, "session_id", context.session_id.as_deref());
        insert_some(&mut custom, "location", context.location.as_deref());
    }
    if let Some(request) = &event.request {
        insert_some(&mut custom, "operation", request.operation.as_deref());
        if let Some(params) = &request.params {
            custom.insert("request_params".into(), Value::Object(params.clone()));
        }
    }
    if let Some(metadata) = &event.metadata {
        custom.insert("metadata".into(), Value::Object(metadata.clone()));
    }
    Value::Object(custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_are_ecs_pairs() {
        assert_eq!(categorize("user.login"), ("authentication", vec!["start"]));
        assert_eq!(categorize("user.logout"), ("authentication", vec!["end"]));
        assert_eq!(
            categorize("user.created"),
            ("iam", vec!["user", "creation"])
        );
        assert_eq!(
            categorize("account.suspended"),
            ("iam", vec!["user", "change"])
        );
        assert_eq!(categorize("document.viewed"), ("api", vec!["access"]));
        assert_eq!(categorize("invoice.paid"), ("api", vec!["info"]));
    }
}
