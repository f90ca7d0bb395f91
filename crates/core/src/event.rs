//! The stored form of an audit event, schema v1 (see `docs/event-schema.md`).
//!
//! These types are what the store keeps and what exports and queries return. They are built only
//! by [`crate::validate`] from client input, so every value in them already satisfies the rules;
//! the field order here is the order of the serialized JSON.
//!
//! Text fields are [`CompactString`]s: the same text as a `String`, held inline up to 24 bytes, so
//! most ids, actions and names cost ingest no allocation (a `String` each was a tenth of it).

pub use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::time::Timestamp;

/// The schema version stamped on every stored event.
pub const SCHEMA_VERSION: u32 = 1;

/// Room for a typical stored event (0.3-1.2 KiB) in one allocation.
const STORED_CAPACITY: usize = 1024;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    pub schema_version: u32,
    pub id: CompactString,
    pub tenant: CompactString,
    pub received_at: Timestamp,
    pub occurred_at: Timestamp,
    pub action: CompactString,
    pub actor: Actor,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<Target>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Context>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Request>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
}

impl Event {
    /// The compact JSON form that is stored, returned and exported.
    pub fn to_json(&self) -> String {
        let mut out = Vec::with_capacity(STORED_CAPACITY);
        let free = crate::event_json::FreeParts::of(self);
        let _spans = crate::event_json::write_event(self, free, &mut out);
        // The writer only ever copies whole `str`s and writes ASCII around them.
        String::from_utf8(out).unwrap_or_default()
    }
}

impl Event {
    /// The event as a client sends it: the stored form without the fields only the server sets
    /// (`schema_version`, `tenant`, `received_at`), with every default filled in. This is what
    /// the edge forwards; the API accepts it unchanged and stores the same event.
    pub fn to_client_json(&self) -> String {
        #[derive(Serialize)]
        struct ClientView<'a> {
            id: &'a str,
            occurred_at: Timestamp,
            action: &'a str,
            actor: &'a Actor,
            outcome: Outcome,
            #[serde(skip_serializing_if = "<[Target]>::is_empty")]
            targets: &'a [Target],
            #[serde(skip_serializing_if = "Option::is_none")]
            context: &'a Option<Context>,
            #[serde(skip_serializing_if = "Option::is_none")]
            source: &'a Option<Source>,
            #[serde(skip_serializing_if = "Option::is_none")]
            request: &'a Option<Request>,
            #[serde(skip_serializing_if = "Option::is_none")]
            metadata: &'a Option<Map<String, Value>>,
        }
        let view = ClientView {
            id: &self.id,
            occurred_at: self.occurred_at,
            action: &self.action,
            actor: &self.actor,
            outcome: self.outcome,
            targets: &self.targets,
            context: &self.context,
            source: &self.source,
            request: &self.request,
            metadata: &self.metadata,
        };
        serde_json::to_string(&view).unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Actor {
    pub id: CompactString,
    #[serde(rename = "type")]
    pub kind: ActorType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<CompactString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<CompactString>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActorType {
    User,
    Service,
    System,
}

impl ActorType {
    pub const ALL: [(&'static str, ActorType); 3] = [
        ("user", ActorType::User),
        ("service", ActorType::Service),
        ("system", ActorType::System),
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ActorType::User => "user",
            ActorType::Service => "service",
            ActorType::System => "system",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Failure,
    Unknown,
}

impl Outcome {
    pub const ALL: [(&'static str, Outcome); 3] = [
        ("success", Outcome::Success),
        ("failure", Outcome::Failure),
        ("unknown", Outcome::Unknown),
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Unknown => "unknown",
        }
    }

    pub fn parse(text: &str) -> Option<Outcome> {
        Outcome::ALL
            .iter()
            .find(|(name, _)| *name == text)
            .map(|(_, o)| *o)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub id: CompactString,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<CompactString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<CompactString>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Context {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<CompactString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<CompactString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<CompactString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<CompactString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<CompactString>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<CompactString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<CompactString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<CompactString>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<CompactString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_code: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
}

/// A plain event for tests: a user's `action` with `outcome`, nothing optional.
#[cfg(test)]
pub(crate) fn sample(action: &str, outcome: Outcome) -> Event {
    Event {
        schema_version: 1,
        id: "e".into(),
        tenant: "acme".into(),
        received_at: Timestamp(1),
        occurred_at: Timestamp(1),
        action: action.into(),
        actor: Actor {
            id: "u1".into(),
            kind: ActorType::User,
            email: None,
            name: None,
        },
        outcome,
        targets: Vec::new(),
        context: None,
        source: None,
        request: None,
        metadata: None,
    }
}
