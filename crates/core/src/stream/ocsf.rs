//! Events as OCSF 1.5.0 records (Open Cybersecurity Schema Framework): API Activity (6003) by
//! default, Authentication (3002) for log in and log out actions, Account Change (3001) for
//! changes to users and accounts. A destination may send actions of a prefix to another class
//! ([`OcsfMapping`]). The table of what goes where is in docs/streams.md; the tests check the
//! records against the published schema of each class (tests/support/ocsf).
//!
//! OCSF objects refuse members they do not define, so whatever of an event has no OCSF place
//! (request parameters, free metadata, the location, other targets) goes under `unmapped`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::verb::{Verb, verb_of};
use crate::event::{ActorType, Event, Outcome, Target};
use crate::validate::FieldError;

/// The OCSF version the records follow (`metadata.version`).
pub const OCSF_VERSION: &str = "1.5.0";

/// The most class rules a destination holds.
pub const MAX_CLASS_RULES: usize = 50;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OcsfClass {
    ApiActivity,
    Authentication,
    AccountChange,
}

impl OcsfClass {
    pub fn uid(self) -> u32 {
        match self {
            OcsfClass::ApiActivity => 6003,
            OcsfClass::Authentication => 3002,
            OcsfClass::AccountChange => 3001,
        }
    }

    fn category_uid(self) -> u32 {
        match self {
            OcsfClass::ApiActivity => 6,
            OcsfClass::Authentication | OcsfClass::AccountChange => 3,
        }
    }

    /// The class's activity for a verb: `(activity_id, activity_name)`; 99 (Other) with the
    /// action as its name when the class has none that fits.
    fn activity(self, verb: Verb) -> Option<(u32, &'static str)> {
        use Verb::*;
        Some(match (self, verb) {
            (OcsfClass::ApiActivity, Create) => (1, "Create"),
            (OcsfClass::ApiActivity, Read) => (2, "Read"),
            (OcsfClass::ApiActivity, Update) => (3, "Update"),
            (OcsfClass::ApiActivity, Delete) => (4, "Delete"),
            (OcsfClass::Authentication, Login) => (1, "Logon"),
            (OcsfClass::Authentication, Logout) => (2, "Logoff"),
            (OcsfClass::AccountChange, Create) => (1, "Create"),
            (OcsfClass::AccountChange, Enable) => (2, "Enable"),
            (OcsfClass::AccountChange, PasswordChange) => (3, "Password Change"),
            (OcsfClass::AccountChange, PasswordReset) => (4, "Password Reset"),
            (OcsfClass::AccountChange, Disable) => (5, "Disable"),
            (OcsfClass::AccountChange, Delete) => (6, "Delete"),
            (OcsfClass::AccountChange, Lock) => (9, "Lock"),
            (OcsfClass::AccountChange, MfaEnable) => (10, "MFA Factor Enable"),
            (OcsfClass::AccountChange, MfaDisable) => (11, "MFA Factor Disable"),
            (OcsfClass::AccountChange, Unlock) => (12, "Unlock"),
            _ => return None,
        })
    }
}

/// Actions of `prefix` go to `class`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassRule {
    pub prefix: String,
    pub class: OcsfClass,
}

/// A destination's class choices: the longest matching prefix wins; actions no rule matches go
/// by [`default_class`].
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OcsfMapping {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<ClassRule>,
}

/// Log in and log out → Authentication; other `user.` and `account.` actions → Account Change;
/// everything else → API Activity.
pub fn default_class(action: &str) -> OcsfClass {
    match verb_of(action) {
        Verb::Login | Verb::Logout => OcsfClass::Authentication,
        _ if action.starts_with("user.") || action.starts_with("account.") => {
            OcsfClass::AccountChange
        }
        _ => OcsfClass::ApiActivity,
    }
}

impl OcsfMapping {
    /// No rule: every action goes by [`default_class`].
    pub fn is_default(&self) -> bool {
        self.classes.is_empty()
    }

    pub fn class_of(&self, action: &str) -> OcsfClass {
        self.classes
            .iter()
            .filter(|rule| action.starts_with(&rule.prefix))
            .max_by_key(|rule| rule.prefix.len())
            .map_or_else(|| default_class(action), |rule| rule.class)
    }

    /// Reads `[{"prefix": "billing.", "class": "api_activity"}, ...]` at `pointer`.
    pub fn from_json(value: &Value, pointer: &str) -> Result<OcsfMapping, Vec<FieldError>> {
        let problem = |at: String, message: &str| FieldError {
            pointer: at,
            message: message.to_string(),
        };
        let Some(items) = value.as_array() else {
            return Err(vec![problem(
                pointer.into(),
                "must be an array of {prefix, class}",
            )]);
        };
        if items.len() > MAX_CLASS_RULES {
            return Err(vec![problem(pointer.into(), "holds more than 50 rules")]);
        }
        let mut errors = Vec::new();
        let mut classes = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match serde_json::from_value::<ClassRule>(item.clone()) {
                Ok(rule) if valid_prefix(&rule.prefix) => classes.push(rule),
                Ok(_) => errors.push(problem(
                    format!("{pointer}/{i}/prefix"),
                    "must be the start of an action, such as `billing.` or `user.password`: a-z, 0-9, `_`, `-` and dots, starting with a letter",
                )),
                Err(_) => errors.push(problem(
                    format!("{pointer}/{i}"),
                    "must be {\"prefix\": \"...\", \"class\": \"api_activity\" | \"authentication\" | \"account_change\"}",
                )),
            }
        }
        if errors.is_empty() {
            Ok(OcsfMapping { classes })
        } else {
            Err(errors)
        }
    }
}

fn valid_prefix(prefix: &str) -> bool {
    (1..=128).contains(&prefix.len())
        && prefix
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase())
        && prefix.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'.')
        })
}

/// OCSF's user: `type_id` 1 (User), 3 (System), or 99 (Other) for a service.
fn user(id: &str, kind: Option<ActorType>, name: Option<&str>, email: Option<&str>) -> Value {
    let mut user = Map::new();
    user.insert("uid".into(), json!(id));
    if let Some(name) = name {
        user.insert("name".into(), json!(name));
    }
    if let Some(email) = email {
        user.insert("email_addr".into(), json!(email));
    }
    let (type_id, type_name) = match kind {
        Some(ActorType::User) => (1, "User"),
        Some(ActorType::System) => (3, "System"),
        Some(ActorType::Service) => (99, "Service"),
        None => (0, "Unknown"),
    };
    user.insert("type_id".into(), json!(type_id));
    user.insert("type".into(), json!(type_name));
    Value::Object(user)
}

fn target_user(target: &Target) -> Value {
    user(&target.id, None, target.name.as_deref(), None)
}

fn resource(target: &Target) -> Value {
    let mut r = Map::new();
    r.insert("uid".into(), json!(target.id));
    if let Some(kind) = &target.kind {
        r.insert("type".into(), json!(kind));
    }
    if let Some(name) = &target.name {
        r.insert("name".into(), json!(name));
    }
    Value::Object(r)
}

/// The event as an OCSF record of the class `mapping` chooses for its action.
pub fn to_ocsf(event: &Event, mapping: &OcsfMapping) -> Value {
    let class = mapping.class_of(&event.action);
    let (activity_id, activity_name) = class
        .activity(verb_of(&event.action))
        .unwrap_or((99, event.action.as_str()));
    let (status_id, status) = match event.outcome {
        Outcome::Success => (1, "Success"),
        Outcome::Failure => (2, "Failure"),
        Outcome::Unknown => (0, "Unknown"),
    };
    let context = event.context.as_ref();
    let mut record = Map::new();
    record.insert("class_uid".into(), json!(class.uid()));
    record.insert("category_uid".into(), json!(class.category_uid()));
    record.insert("activity_id".into(), json!(activity_id));
    record.insert("activity_name".into(), json!(activity_name));
    record.insert("type_uid".into(), json!(class.uid() * 100 + activity_id));
    record.insert("time".into(), json!(event.occurred_at.0));
    record.insert("severity_id".into(), json!(1));
    record.insert("status_id".into(), json!(status_id));
    record.insert("status".into(), json!(status));
    record.insert("message".into(), json!(event.action));
    record.insert("metadata".into(), metadata(event));
    let actor_user = user(
        &event.actor.id,
        Some(event.actor.kind),
        event.actor.name.as_deref(),
        event.actor.email.as_deref(),
    );
    let mut actor = Map::new();
    actor.insert("user".into(), actor_user.clone());
    if let Some(session) = context.and_then(|c| c.session_id.as_deref()) {
        actor.insert("session".into(), json!({"uid": session}));
    }
    record.insert("actor".into(), Value::Object(actor));
    let mut unmapped = unmapped(event);
    class_members(class, event, actor_user, &mut record, &mut unmapped);
    if let Some(endpoint) = src_endpoint(event, class) {
        record.insert("src_endpoint".into(), endpoint);
    }
    if let Some(request) = http_request(event) {
        record.insert("http_request".into(), request);
    }
    if let Some(ms) = event.request.as_ref().and_then(|r| r.latency_ms) {
        record.insert("duration".into(), json!(ms));
    }
    if !unmapped.is_empty() {
        record.insert("unmapped".into(), Value::Object(unmapped));
    }
    Value::Object(record)
}

/// The members only `class` has: the API call and its resources, who logged in to what, or
/// whose account changed. Targets no member holds go to `unmapped`.
fn class_members(
    class: OcsfClass,
    event: &Event,
    actor_user: Value,
    record: &mut Map<String, Value>,
    unmapped: &mut Map<String, Value>,
) {
    match class {
        OcsfClass::ApiActivity => {
            record.insert("api".into(), api(event));
            if !event.targets.is_empty() {
                let resources: Vec<Value> = event.targets.iter().map(resource).collect();
                record.insert("resources".into(), json!(resources));
            }
        }
        OcsfClass::Authentication => authentication(event, actor_user, record, unmapped),
        OcsfClass::AccountChange => account_change(event, actor_user, record, unmapped),
    }
}

fn authentication(
    event: &Event,
    actor_user: Value,
    record: &mut Map<String, Value>,
    unmapped: &mut Map<String, Value>,
) {
    // The user who logged in or out is the actor; the service logged in to is the
    // target that is an application, else the event's source service.
    record.insert("user".into(), actor_user);
    let app = event.targets.iter().position(|t| {
        matches!(
            t.kind.as_deref(),
            Some("application" | "app" | "service" | "client")
        )
    });
    let mut rest = event.targets.clone();
    let service = match app {
        Some(i) => {
            let t = rest.remove(i);
            let mut service = json!({ "uid": t.id });
            if let Some(name) = t.name {
                service["name"] = json!(name);
            }
            service
        }
        // OCSF requires a service or destination: `unknown` says it is not known.
        None => json!({ "name": event
            .source
            .as_ref()
            .and_then(|s| s.service.as_deref())
            .unwrap_or("unknown") }),
    };
    record.insert("service".into(), service);
    other_targets(unmapped, &rest);
}

fn account_change(
    event: &Event,
    actor_user: Value,
    record: &mut Map<String, Value>,
    unmapped: &mut Map<String, Value>,
) {
    // The account changed: the first target that is a user, else the first target,
    // else the actor's own (a user changing their own password).
    let changed = event
        .targets
        .iter()
        .position(|t| t.kind.as_deref() == Some("user"))
        .or(if event.targets.is_empty() {
            None
        } else {
            Some(0)
        });
    match changed {
        Some(i) => {
            record.insert("user".into(), target_user(&event.targets[i]));
            let mut rest = event.targets.clone();
            rest.remove(i);
            other_targets(unmapped, &rest);
        }
        None => {
            record.insert("user".into(), actor_user);
        }
    }
}

fn metadata(event: &Event) -> Value {
    let mut metadata = json!({
        "version": OCSF_VERSION,
        "product": {"name": "auditlog", "vendor_name": "auditlog"},
        "uid": event.id,
        "tenant_uid": event.tenant,
        "logged_time": event.received_at.0,
    });
    if let Some(request_id) = event.context.as_ref().and_then(|c| c.request_id.as_deref()) {
        metadata["correlation_uid"] = json!(request_id);
    }
    metadata
}

fn api(event: &Event) -> Value {
    let request = event.request.as_ref();
    let operation = request
        .and_then(|r| r.operation.as_deref())
        .unwrap_or(&event.action);
    let mut api = json!({ "operation": operation });
    if let Some(source) = &event.source
        && let Some(service) = &source.service
    {
        api["service"] = json!({ "name": service });
        if let Some(version) = &source.version {
            api["service"]["version"] = json!(version);
        }
    }
    if let Some(code) = request.and_then(|r| r.response_code) {
        api["response"] = json!({ "code": code });
    }
    api
}

/// Where the request came from. API Activity requires one: without an address it is named
/// `unknown`, which says so rather than leaving the record invalid.
fn src_endpoint(event: &Event, class: OcsfClass) -> Option<Value> {
    match event.context.as_ref().and_then(|c| c.ip_address.as_deref()) {
        Some(ip) => Some(json!({ "ip": ip })),
        None if class == OcsfClass::ApiActivity => Some(json!({ "name": "unknown" })),
        None => None,
    }
}

fn http_request(event: &Event) -> Option<Value> {
    let context = event.context.as_ref()?;
    let mut request = Map::new();
    if let Some(agent) = &context.user_agent {
        request.insert("user_agent".into(), json!(agent));
    }
    if let Some(id) = &context.request_id {
        request.insert("uid".into(), json!(id));
    }
    (!request.is_empty()).then_some(Value::Object(request))
}

fn other_targets(unmapped: &mut Map<String, Value>, targets: &[Target]) {
    if !targets.is_empty() {
        let listed: Vec<Value> = targets.iter().map(resource).collect();
        unmapped.insert("targets".into(), json!(listed));
    }
}

/// What has no OCSF place: request parameters, metadata, environment, location.
fn unmapped(event: &Event) -> Map<String, Value> {
    let mut unmapped = Map::new();
    if let Some(request) = &event.request
        && let Some(params) = &request.params
    {
        unmapped.insert("request_params".into(), Value::Object(params.clone()));
    }
    if let Some(metadata) = &event.metadata {
        unmapped.insert("metadata".into(), Value::Object(metadata.clone()));
    }
    if let Some(source) = &event.source
        && let Some(environment) = &source.environment
    {
        unmapped.insert("environment".into(), json!(environment));
    }
    if let Some(location) = event.context.as_ref().and_then(|c| c.location.as_deref()) {
        unmapped.insert("location".into(), json!(location));
    }
    unmapped
}

#[cfg(test)]
mod tests;
