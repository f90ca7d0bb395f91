//! Self-audit: the events the service records about its own use, in the tenant's own stream,
//! under the reserved `auditlog.` action namespace (which clients cannot write; see
//! [`crate::validate::check_action`]).
//!
//! Who read the log, who changed where it goes, who made the keys that write to it: each is one
//! event, built here purely from what the caller tells (the caller supplies the id and the
//! clock). The hosts decide when to record; the stores write a change and its record together
//! (see `docs/self-audit.md`). The events carry ids, scopes, filters and counts, never a key,
//! a token or a secret, so there is nothing in them to mask.

use serde_json::{Map, Value, json};

use crate::event::{
    Actor, ActorType, CompactString, Context, Event, Outcome, SCHEMA_VERSION, Source, Target,
};
use crate::export::{Destination, Target as ExportTarget};
use crate::keys::KeyRecord;
use crate::store::NewEvent;
use crate::time::Timestamp;
use crate::validate::RESERVED_ACTION_PREFIX;
use crate::viewer::ViewerSession;

/// Every action the service records, with its name (`docs/event-schema.md` lists their fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelfAction {
    KeyCreated,
    KeyRevoked,
    DestinationAdded,
    DestinationRemoved,
    DestinationVerified,
    DestinationPaused,
    DestinationResumed,
    DestinationReplayed,
    /// `GET /v1/events`.
    EventsListed,
    /// `GET /v1/events/{id}`.
    EventRead,
    /// A console page of results.
    ConsoleEventsListed,
    /// A console page of one event.
    ConsoleEventViewed,
    /// A console download (CSV or NDJSON).
    ConsoleDownloaded,
    ViewerSessionIssued,
    ViewerSessionOpened,
    ViewerSessionRefused,
    /// A valid key of the tenant refused: without the scope, or revoked.
    AccessRefused,
}

impl SelfAction {
    pub const ALL: [SelfAction; 17] = [
        SelfAction::KeyCreated,
        SelfAction::KeyRevoked,
        SelfAction::DestinationAdded,
        SelfAction::DestinationRemoved,
        SelfAction::DestinationVerified,
        SelfAction::DestinationPaused,
        SelfAction::DestinationResumed,
        SelfAction::DestinationReplayed,
        SelfAction::EventsListed,
        SelfAction::EventRead,
        SelfAction::ConsoleEventsListed,
        SelfAction::ConsoleEventViewed,
        SelfAction::ConsoleDownloaded,
        SelfAction::ViewerSessionIssued,
        SelfAction::ViewerSessionOpened,
        SelfAction::ViewerSessionRefused,
        SelfAction::AccessRefused,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SelfAction::KeyCreated => "auditlog.key.created",
            SelfAction::KeyRevoked => "auditlog.key.revoked",
            SelfAction::DestinationAdded => "auditlog.destination.added",
            SelfAction::DestinationRemoved => "auditlog.destination.removed",
            SelfAction::DestinationVerified => "auditlog.destination.verified",
            SelfAction::DestinationPaused => "auditlog.destination.paused",
            SelfAction::DestinationResumed => "auditlog.destination.resumed",
            SelfAction::DestinationReplayed => "auditlog.destination.replayed",
            SelfAction::EventsListed => "auditlog.events.listed",
            SelfAction::EventRead => "auditlog.event.read",
            SelfAction::ConsoleEventsListed => "auditlog.console.events_listed",
            SelfAction::ConsoleEventViewed => "auditlog.console.event_viewed",
            SelfAction::ConsoleDownloaded => "auditlog.console.downloaded",
            SelfAction::ViewerSessionIssued => "auditlog.viewer_session.issued",
            SelfAction::ViewerSessionOpened => "auditlog.viewer_session.opened",
            SelfAction::ViewerSessionRefused => "auditlog.viewer_session.refused",
            SelfAction::AccessRefused => "auditlog.access.refused",
        }
    }
}

/// Who did it. Never a key or a token: a key is named by its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// An API key, by its id.
    Key { key_id: String },
    /// A console viewer session, by its id and the display name it was issued for.
    Viewer {
        session_id: String,
        display_name: Option<String>,
    },
    /// An operator at the CLI, straight against the store: the OS user and host.
    Operator { user: String, host: String },
}

impl Caller {
    /// How the caller reached us, as the `via` detail says it.
    pub fn via(&self) -> &'static str {
        match self {
            Caller::Key { .. } => "api_key",
            Caller::Viewer { .. } => "viewer_session",
            Caller::Operator { .. } => "cli",
        }
    }

    /// `key:<id>`, `viewer:<id>` or `operator:<user>@<host>`: the form other records (such as a
    /// viewer session's `issued_by`) name a caller by.
    pub fn reference(&self) -> String {
        match self {
            Caller::Key { key_id } => format!("key:{key_id}"),
            Caller::Viewer { session_id, .. } => format!("viewer:{session_id}"),
            Caller::Operator { user, host } => format!("operator:{user}@{host}"),
        }
    }

    fn actor(&self) -> Actor {
        match self {
            Caller::Key { key_id } => Actor {
                id: clip(key_id, 128),
                kind: ActorType::Service,
                email: None,
                name: Some("API key".into()),
            },
            Caller::Viewer {
                session_id,
                display_name,
            } => Actor {
                id: clip(session_id, 128),
                kind: ActorType::User,
                email: None,
                name: Some(
                    display_name
                        .as_deref()
                        .map_or_else(|| "console viewer".into(), |n| clip(n, 128)),
                ),
            },
            Caller::Operator { user, host } => Actor {
                id: clip(&format!("{user}@{host}"), 128),
                kind: ActorType::User,
                email: None,
                name: Some("operator (CLI)".into()),
            },
        }
    }
}

/// Where the request came from, as the host saw it (the connecting address, not a header a
/// client could forge).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

/// One self-audit record, before it becomes an event.
#[derive(Debug, Clone, PartialEq)]
pub struct SelfEvent {
    pub action: SelfAction,
    pub caller: Caller,
    pub outcome: Outcome,
    pub targets: Vec<Target>,
    pub details: Map<String, Value>,
    pub origin: Origin,
}

impl SelfEvent {
    /// A successful `action` by `caller`, with no targets or details yet.
    pub fn new(action: SelfAction, caller: Caller) -> SelfEvent {
        SelfEvent {
            action,
            caller,
            outcome: Outcome::Success,
            targets: Vec::new(),
            details: Map::new(),
            origin: Origin::default(),
        }
    }

    /// Adds what the action was done to (`kind` such as `api_key`, `destination`, `event`).
    pub fn target(mut self, kind: &str, id: &str, name: Option<&str>) -> SelfEvent {
        self.targets.push(Target {
            id: clip(id, 256),
            kind: Some(clip(kind, 128)),
            name: name.map(|n| clip(n, 128)),
        });
        self
    }

    /// Adds one detail (in `metadata`).
    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> SelfEvent {
        self.details.insert(key.to_string(), value.into());
        self
    }

    /// Names a destination as the target: its id, and where it delivers (a bucket and prefix, or
    /// a directory), never a credential; and what it keeps and how it writes it when that is
    /// not the default (a filter decides what a copy of the log holds: a reader of the log
    /// should see who set it).
    pub fn destination(self, destination: &Destination) -> SelfEvent {
        let (kind, location) = match &destination.target {
            ExportTarget::S3(s3) => ("s3", format!("s3://{}/{}", s3.bucket, s3.prefix)),
            ExportTarget::Azure(azure) => ("azure", azure.location()),
            ExportTarget::Directory { path, prefix } => (
                "directory",
                format!("{}/{prefix}", path.trim_end_matches('/')),
            ),
            ExportTarget::Stream(stream) => (stream.target.kind(), stream.target.location()),
        };
        let role = match &destination.target {
            ExportTarget::S3(s3) => s3.role_arn.clone(),
            ExportTarget::Azure(_) | ExportTarget::Directory { .. } | ExportTarget::Stream(_) => {
                None
            }
        };
        let mut with = self
            .target("destination", &destination.id, Some(&location))
            .detail("destination_kind", kind);
        if let Some(arn) = role {
            with = with.detail("role_arn", arn);
        }
        let (filter, format) = match &destination.target {
            ExportTarget::Stream(stream) => (
                (stream.filter != Default::default()).then_some(&stream.filter),
                stream.format,
            ),
            _ => (destination.filter.as_ref(), destination.format),
        };
        if let Some(filter) = filter {
            with = with.detail("filter", serde_json::to_value(filter).unwrap_or_default());
        }
        if !format.is_v1() {
            with = with.detail("format", format.name());
        }
        if !destination.compression.is_gzip() {
            with = with.detail("compression", destination.compression.as_str());
        }
        with
    }

    pub fn outcome(mut self, outcome: Outcome) -> SelfEvent {
        self.outcome = outcome;
        self
    }

    pub fn origin(mut self, origin: Origin) -> SelfEvent {
        self.origin = origin;
        self
    }

    /// The stored event, received (and occurred) at `now`, kept for `retention_ms` like any
    /// other event.
    pub fn into_event(
        self,
        tenant: &str,
        id: String,
        now: Timestamp,
        retention_ms: i64,
    ) -> NewEvent {
        let mut metadata = self.details;
        metadata.insert("via".into(), json!(self.caller.via()));
        let origin = self.origin;
        let context = (origin.ip_address.is_some()
            || origin.user_agent.is_some()
            || origin.request_id.is_some())
        .then(|| Context {
            ip_address: origin.ip_address.map(|ip| clip(&ip, 64)),
            user_agent: origin.user_agent.map(|ua| clip(&ua, 1024)),
            request_id: origin.request_id.map(|r| clip(&r, 128)),
            session_id: None,
            location: None,
        });
        let event = Event {
            schema_version: SCHEMA_VERSION,
            id: id.into(),
            tenant: tenant.into(),
            received_at: now,
            occurred_at: now,
            action: self.action.name().into(),
            actor: self.caller.actor(),
            outcome: self.outcome,
            targets: self.targets,
            context,
            source: Some(Source {
                service: Some("auditlog".into()),
                environment: None,
                version: Some(env!("CARGO_PKG_VERSION").into()),
            }),
            request: None,
            metadata: Some(metadata),
        };
        NewEvent::new(event, Timestamp(now.0.saturating_add(retention_ms)))
    }
}

/// The record of a key made: its id, tenant, scopes and label, never the key or its hash.
pub fn key_created(caller: Caller, key: &KeyRecord) -> SelfEvent {
    SelfEvent::new(SelfAction::KeyCreated, caller)
        .target("api_key", &key.key_id, key.label.as_deref())
        .detail("scopes", scope_names(key))
}

/// The record of a key revoked.
pub fn key_revoked(caller: Caller, key: &KeyRecord) -> SelfEvent {
    SelfEvent::new(SelfAction::KeyRevoked, caller)
        .target("api_key", &key.key_id, key.label.as_deref())
        .detail("scopes", scope_names(key))
}

fn scope_names(key: &KeyRecord) -> Value {
    key.scopes.iter().map(|s| json!(s.as_str())).collect()
}

/// The record of a viewer session issued: for whom, which fixed filter, until when.
pub fn session_issued(caller: Caller, session: &ViewerSession) -> SelfEvent {
    SelfEvent::new(SelfAction::ViewerSessionIssued, caller)
        .target(
            "viewer_session",
            &session.id,
            session.display_name.as_deref(),
        )
        .detail(
            "filter",
            serde_json::to_value(&session.filter).unwrap_or(Value::Null),
        )
        .detail("admin", session.admin)
        .detail(
            "expires_at",
            serde_json::to_value(session.expires_at).unwrap_or(Value::Null),
        )
}

/// The viewer session as the actor of its own records.
pub fn viewer(session: &ViewerSession) -> Caller {
    Caller::Viewer {
        session_id: session.id.clone(),
        display_name: session.display_name.clone(),
    }
}

/// The record of a one-time link opened.
pub fn session_opened(session: &ViewerSession) -> SelfEvent {
    SelfEvent::new(SelfAction::ViewerSessionOpened, viewer(session))
        .target(
            "viewer_session",
            &session.id,
            session.display_name.as_deref(),
        )
        .detail("issued_by", session.issued_by.clone())
}

/// The record of a link or cookie of a known session refused (`reason` as the page says it).
pub fn session_refused(session: &ViewerSession, presented: &str, reason: &str) -> SelfEvent {
    SelfEvent::new(SelfAction::ViewerSessionRefused, viewer(session))
        .target(
            "viewer_session",
            &session.id,
            session.display_name.as_deref(),
        )
        .outcome(Outcome::Failure)
        .detail("presented", presented)
        .detail("reason", clip(reason, 256).as_str())
}

/// Whether `action` is one the service records itself.
pub fn is_self_audit(action: &str) -> bool {
    action.starts_with(RESERVED_ACTION_PREFIX)
}

/// `text` as a typed field of a stored event may hold it: control characters (which a path or a
/// header can carry) replaced by U+FFFD, cut to `max` characters, never empty. A record is an
/// event like any other and must meet the schema every reader relies on.
fn clip(text: &str, max: usize) -> CompactString {
    let clean: CompactString = text
        .chars()
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .take(max)
        .collect();
    if clean.is_empty() { "-".into() } else { clean }
}

#[cfg(test)]
mod tests;
