//! Turning one client-supplied JSON value into a stored [`Event`], or into the full list of what
//! is wrong with it.
//!
//! Validation walks a `serde_json::Value` rather than deserializing straight into the typed model
//! so that it can report *every* problem at once, each with the JSON pointer of the offending
//! field, instead of stopping at the first. Values are moved out of the parsed tree, never cloned.

use std::net::IpAddr;

use serde_json::{Map, Value};

use crate::event::{
    Actor, ActorType, Context, Event, Outcome, Request, SCHEMA_VERSION, Source, Target,
};
use crate::integrity::KnownCanonical;
use crate::redact::Redactor;
use crate::time::{self, Timestamp};

/// Size and count bounds; every one is a setting (see the settings table in the README).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Compact JSON size of one stored event.
    pub max_event_bytes: usize,
    /// Events in one request.
    pub max_events_per_request: usize,
    /// Bytes in one request body.
    pub max_request_bytes: usize,
    /// Compact JSON size of `metadata`, and separately of `request.params`.
    pub max_free_json_bytes: usize,
    /// Nesting depth of `metadata` and `request.params` (an object holding a scalar is depth 1).
    pub max_nesting_depth: usize,
    /// Entries in `targets`.
    pub max_targets: usize,
    /// How far into the future `occurred_at` may be, to absorb client clock skew.
    pub max_future_skew_ms: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_event_bytes: 32 * 1024,
            max_events_per_request: 500,
            max_request_bytes: 1024 * 1024,
            max_free_json_bytes: 16 * 1024,
            max_nesting_depth: 16,
            max_targets: 64,
            max_future_skew_ms: 5 * 60 * 1000,
        }
    }
}

/// One rejected field: where it is (RFC 6901 JSON pointer into the request body) and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldError {
    pub pointer: String,
    pub message: String,
}

/// A number JSON Schema calls an integer: `42`, or `42.0` (a zero fraction), as the published
/// schema (`"type": "integer"`) accepts it. Fractions, and floats too large to be exact, are not.
fn whole(n: &serde_json::Number) -> Option<i128> {
    if let Some(i) = n.as_i64() {
        return Some(i.into());
    }
    if let Some(u) = n.as_u64() {
        return Some(u.into());
    }
    n.as_f64()
        .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
        .map(|f| f as i128)
}

/// What the server supplies for every event of a request.
#[derive(Debug, Clone, Copy)]
pub struct IngestContext<'a> {
    pub tenant: &'a str,
    pub received_at: Timestamp,
    pub limits: &'a Limits,
    pub redactor: &'a Redactor,
}

/// A valid, masked event with its stored JSON and its receipt.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedEvent {
    pub event: Event,
    pub json: String,
    /// SHA-256 (hex) of the canonical form of `json` (`crate::integrity`): computed here, once,
    /// then answered to the client, stored beside the event and copied into its export line.
    pub receipt: String,
    /// How many values were masked.
    pub redacted: usize,
}

pub const TOP_LEVEL_FIELDS: [&str; 10] = [
    "id",
    "action",
    "actor",
    "occurred_at",
    "outcome",
    "targets",
    "context",
    "source",
    "request",
    "metadata",
];
const SERVER_FIELDS: [&str; 3] = ["tenant", "received_at", "schema_version"];

pub const MAX_ID_CHARS: usize = 128;
pub const MAX_ACTION_CHARS: usize = 128;
pub(crate) const MAX_REF_CHARS: usize = 256;
pub(crate) const MAX_EMAIL_CHARS: usize = 320;
pub(crate) const MAX_LABEL_CHARS: usize = 128;
pub(crate) const MAX_USER_AGENT_CHARS: usize = 1024;
pub(crate) const MAX_IP_CHARS: usize = 64;

/// Escapes one reference token for a JSON pointer (RFC 6901: `~` → `~0`, `/` → `~1`).
pub fn escape_pointer_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Validates and masks one event. `base` is the pointer of the event inside the request body
/// (`""` for a single event, `/events/3` in a batch); `fresh_id` is called only when the client
/// sent no `id`.
pub fn prepare_event(
    value: Value,
    base: &str,
    ctx: &IngestContext<'_>,
    fresh_id: &mut dyn FnMut() -> String,
) -> Result<PreparedEvent, Vec<FieldError>> {
    let mut v = Validator {
        base,
        errors: Vec::new(),
        limits: ctx.limits,
    };
    let Value::Object(mut map) = value else {
        v.error(
            "",
            format!("an event must be a JSON object, not {}", kind(&value)),
        );
        return Err(v.errors);
    };

    let id = v.string(&mut map, "", "id", MAX_ID_CHARS, Rule::IdempotencyKey);
    let action = v.string(&mut map, "", "action", MAX_ACTION_CHARS, Rule::Action);
    if action.is_none() && !v.has_error_at("/action") {
        v.error("/action", "is required");
    }
    let actor = v.actor(&mut map);
    let occurred_at = v.occurred_at(&mut map, ctx.received_at);
    let outcome = v.outcome(&mut map);
    let targets = v.targets(&mut map);
    let context = v.context(&mut map);
    let source = v.source(&mut map);
    let request = v.request(&mut map);
    let metadata = v.free_object(&mut map, "", "metadata");
    v.leftovers(&map, "", &TOP_LEVEL_FIELDS, true);

    if !v.errors.is_empty() {
        return Err(v.errors);
    }
    let (Some(action), Some(actor)) = (action, actor) else {
        // Unreachable: a missing required field always records an error above.
        return Err(vec![FieldError {
            pointer: base.to_string(),
            message: "incomplete event".into(),
        }]);
    };

    let event = Event {
        schema_version: SCHEMA_VERSION,
        id: id.unwrap_or_else(fresh_id),
        tenant: ctx.tenant.to_string(),
        received_at: ctx.received_at,
        occurred_at: occurred_at.unwrap_or(ctx.received_at),
        action,
        actor,
        outcome: outcome.unwrap_or(Outcome::Unknown),
        targets,
        context,
        source,
        request,
        metadata,
    };
    finish(event, base, ctx)
}

/// The common end of both validation paths: mask, serialize, bound the stored size.
pub(crate) fn finish(
    event: Event,
    base: &str,
    ctx: &IngestContext<'_>,
) -> Result<PreparedEvent, Vec<FieldError>> {
    finish_known(event, base, ctx, KnownCanonical::default())
}

/// [`finish`], told what the reader found out about the free-form objects.
pub(crate) fn finish_known(
    mut event: Event,
    base: &str,
    ctx: &IngestContext<'_>,
    known: KnownCanonical,
) -> Result<PreparedEvent, Vec<FieldError>> {
    let mut redacted = 0;
    if let Some(params) = event.request.as_mut().and_then(|r| r.params.as_mut()) {
        redacted += ctx.redactor.redact_map(params);
    }
    if let Some(meta) = event.metadata.as_mut() {
        redacted += ctx.redactor.redact_map(meta);
    }
    let (json, receipt) =
        crate::integrity::stored_and_receipt_known(&event, known).map_err(|e| {
            vec![FieldError {
                pointer: base.to_string(),
                message: format!("internal error: no receipt: {e}"),
            }]
        })?;
    if json.len() > ctx.limits.max_event_bytes {
        return Err(vec![FieldError {
            pointer: base.to_string(),
            message: format!(
                "event is {} bytes as stored; the limit is {} bytes",
                json.len(),
                ctx.limits.max_event_bytes
            ),
        }]);
    }
    Ok(PreparedEvent {
        event,
        json,
        receipt,
        redacted,
    })
}

#[derive(Clone, Copy)]
pub(crate) enum Rule {
    Text,
    IdempotencyKey,
    Action,
    Email,
    IpAddress,
}

struct Validator<'a> {
    base: &'a str,
    errors: Vec<FieldError>,
    limits: &'a Limits,
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Takes a field out of the map; JSON `null` counts as absent.
fn take(map: &mut Map<String, Value>, key: &str) -> Option<Value> {
    map.remove(key).filter(|v| !v.is_null())
}

impl Validator<'_> {
    fn error(&mut self, path: &str, message: impl Into<String>) {
        self.errors.push(FieldError {
            pointer: format!("{}{}", self.base, path),
            message: message.into(),
        });
    }

    fn has_error_at(&self, path: &str) -> bool {
        let base = self.base.len();
        self.errors
            .iter()
            .any(|e| e.pointer.len() == base + path.len() && e.pointer.ends_with(path))
    }

    fn string(
        &mut self,
        map: &mut Map<String, Value>,
        parent: &str,
        key: &str,
        max_chars: usize,
        rule: Rule,
    ) -> Option<String> {
        // The pointer is only built on the error path: this runs for every field of every event.
        let value = take(map, key)?;
        let Value::String(text) = value else {
            self.error(
                &format!("{parent}/{key}"),
                format!("must be a string, not {}", kind(&value)),
            );
            return None;
        };
        if let Err(message) = check_text(&text, max_chars, rule) {
            self.error(&format!("{parent}/{key}"), message);
            return None;
        }
        Some(text)
    }

    fn object(
        &mut self,
        map: &mut Map<String, Value>,
        path: &str,
        key: &str,
    ) -> Option<Map<String, Value>> {
        match take(map, key)? {
            Value::Object(inner) => Some(inner),
            other => {
                self.error(
                    &format!("{path}/{key}"),
                    format!("must be an object, not {}", kind(&other)),
                );
                None
            }
        }
    }

    /// Reports keys left in `map` after the known ones were taken.
    fn leftovers(&mut self, map: &Map<String, Value>, path: &str, allowed: &[&str], top: bool) {
        for key in map.keys() {
            let at = format!("{path}/{}", escape_pointer_token(key));
            if top && SERVER_FIELDS.contains(&key.as_str()) {
                self.error(&at, "is set by the server and must not be sent");
                continue;
            }
            let mut message = format!("unknown field; allowed here: {}", allowed.join(", "));
            if let Some(near) = nearest(key, allowed) {
                message = format!(
                    "unknown field (did you mean `{near}`?); allowed here: {}",
                    allowed.join(", ")
                );
            }
            self.error(&at, message);
        }
    }

    fn actor(&mut self, map: &mut Map<String, Value>) -> Option<Actor> {
        let Some(mut actor) = self.object(map, "", "actor") else {
            if !self.has_error_at("/actor") {
                self.error("/actor", "is required");
            }
            return None;
        };
        let id = self.string(&mut actor, "/actor", "id", MAX_REF_CHARS, Rule::Text);
        if id.is_none() && !self.has_error_at("/actor/id") {
            self.error("/actor/id", "is required");
        }
        let kind = match take(&mut actor, "type") {
            None => Some(ActorType::User),
            Some(Value::String(t)) => match ActorType::ALL.iter().find(|(n, _)| *n == t) {
                Some((_, k)) => Some(*k),
                None => {
                    self.error(
                        "/actor/type",
                        format!("`{}` is not one of user, service, system", clip(&t)),
                    );
                    None
                }
            },
            Some(other) => {
                self.error(
                    "/actor/type",
                    format!("must be a string, not {}", kind(&other)),
                );
                None
            }
        };
        let email = self.string(&mut actor, "/actor", "email", MAX_EMAIL_CHARS, Rule::Email);
        let name = self.string(&mut actor, "/actor", "name", MAX_REF_CHARS, Rule::Text);
        self.leftovers(&actor, "/actor", &["id", "type", "email", "name"], false);
        Some(Actor {
            id: id?,
            kind: kind?,
            email,
            name,
        })
    }

    fn occurred_at(&mut self, map: &mut Map<String, Value>, now: Timestamp) -> Option<Timestamp> {
        let value = take(map, "occurred_at")?;
        let parsed = match &value {
            Value::String(text) => time::parse_rfc3339(text).map_err(|e| e.to_string()),
            Value::Number(n) => match whole(n).and_then(|w| i64::try_from(w).ok()) {
                Some(ms) => time::from_epoch_millis(ms).map_err(|e| e.to_string()),
                None => Err("epoch milliseconds must be a whole number".to_string()),
            },
            other => Err(format!(
                "must be an RFC 3339 string or epoch milliseconds, not {}",
                kind(other)
            )),
        };
        match parsed {
            Ok(t) if t.0 > now.0.saturating_add(self.limits.max_future_skew_ms) => {
                self.error(
                    "/occurred_at",
                    format!(
                        "is {} s after the server's clock; at most {} s of clock skew is accepted",
                        (t.0 - now.0) / 1000,
                        self.limits.max_future_skew_ms / 1000
                    ),
                );
                None
            }
            Ok(t) => Some(t),
            Err(message) => {
                self.error("/occurred_at", message);
                None
            }
        }
    }

    fn outcome(&mut self, map: &mut Map<String, Value>) -> Option<Outcome> {
        match take(map, "outcome")? {
            Value::String(text) => {
                let found = Outcome::parse(&text);
                if found.is_none() {
                    self.error(
                        "/outcome",
                        format!("`{}` is not one of success, failure, unknown", clip(&text)),
                    );
                }
                found
            }
            other => {
                self.error(
                    "/outcome",
                    format!("must be a string, not {}", kind(&other)),
                );
                None
            }
        }
    }

    fn targets(&mut self, map: &mut Map<String, Value>) -> Vec<Target> {
        let Some(value) = take(map, "targets") else {
            return Vec::new();
        };
        let Value::Array(items) = value else {
            self.error(
                "/targets",
                format!("must be an array, not {}", kind(&value)),
            );
            return Vec::new();
        };
        if items.len() > self.limits.max_targets {
            self.error(
                "/targets",
                format!(
                    "has {} entries; at most {} are allowed",
                    items.len(),
                    self.limits.max_targets
                ),
            );
            return Vec::new();
        }
        let mut targets = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            let path = format!("/targets/{i}");
            let Value::Object(mut t) = item else {
                self.error(&path, format!("must be an object, not {}", kind(&item)));
                continue;
            };
            let id = self.string(&mut t, &path, "id", MAX_REF_CHARS, Rule::Text);
            if id.is_none() && !self.has_error_at(&format!("{path}/id")) {
                self.error(&format!("{path}/id"), "is required");
            }
            let kind = self.string(&mut t, &path, "type", MAX_LABEL_CHARS, Rule::Text);
            let name = self.string(&mut t, &path, "name", MAX_REF_CHARS, Rule::Text);
            self.leftovers(&t, &path, &["id", "type", "name"], false);
            if let Some(id) = id {
                targets.push(Target { id, kind, name });
            }
        }
        targets
    }

    fn context(&mut self, map: &mut Map<String, Value>) -> Option<Context> {
        let mut c = self.object(map, "", "context")?;
        let context = Context {
            ip_address: self.string(
                &mut c,
                "/context",
                "ip_address",
                MAX_IP_CHARS,
                Rule::IpAddress,
            ),
            user_agent: self.string(
                &mut c,
                "/context",
                "user_agent",
                MAX_USER_AGENT_CHARS,
                Rule::Text,
            ),
            request_id: self.string(&mut c, "/context", "request_id", MAX_REF_CHARS, Rule::Text),
            session_id: self.string(&mut c, "/context", "session_id", MAX_REF_CHARS, Rule::Text),
            location: self.string(&mut c, "/context", "location", MAX_REF_CHARS, Rule::Text),
        };
        self.leftovers(
            &c,
            "/context",
            &[
                "ip_address",
                "user_agent",
                "request_id",
                "session_id",
                "location",
            ],
            false,
        );
        Some(context)
    }

    fn source(&mut self, map: &mut Map<String, Value>) -> Option<Source> {
        let mut s = self.object(map, "", "source")?;
        let source = Source {
            service: self.string(&mut s, "/source", "service", MAX_LABEL_CHARS, Rule::Text),
            environment: self.string(
                &mut s,
                "/source",
                "environment",
                MAX_LABEL_CHARS,
                Rule::Text,
            ),
            version: self.string(&mut s, "/source", "version", MAX_LABEL_CHARS, Rule::Text),
        };
        self.leftovers(&s, "/source", &["service", "environment", "version"], false);
        Some(source)
    }

    fn request(&mut self, map: &mut Map<String, Value>) -> Option<Request> {
        let mut r = self.object(map, "", "request")?;
        let operation = self.string(&mut r, "/request", "operation", MAX_REF_CHARS, Rule::Text);
        let params = self.free_object(&mut r, "/request", "params");
        let response_code = match take(&mut r, "response_code") {
            None => None,
            Some(Value::Number(n)) => match whole(&n) {
                Some(code @ 100..=599) => Some(code as u16),
                _ => {
                    self.error(
                        "/request/response_code",
                        "must be a whole number from 100 to 599",
                    );
                    None
                }
            },
            Some(other) => {
                self.error(
                    "/request/response_code",
                    format!("must be a number, not {}", kind(&other)),
                );
                None
            }
        };
        let latency_ms = match take(&mut r, "latency_ms") {
            None => None,
            Some(Value::Number(n)) => match whole(&n).and_then(|w| u64::try_from(w).ok()) {
                Some(ms) => Some(ms),
                None => {
                    self.error(
                        "/request/latency_ms",
                        "must be a whole number of milliseconds, 0 or more",
                    );
                    None
                }
            },
            Some(other) => {
                self.error(
                    "/request/latency_ms",
                    format!("must be a number, not {}", kind(&other)),
                );
                None
            }
        };
        self.leftovers(
            &r,
            "/request",
            &["operation", "params", "response_code", "latency_ms"],
            false,
        );
        Some(Request {
            operation,
            params,
            response_code,
            latency_ms,
        })
    }

    /// `metadata` and `request.params`: any JSON object, bounded in size and depth.
    fn free_object(
        &mut self,
        map: &mut Map<String, Value>,
        parent: &str,
        key: &str,
    ) -> Option<Map<String, Value>> {
        let inner = self.object(map, parent, key)?;
        let (depth, size) = measure_object(&inner);
        if depth > self.limits.max_nesting_depth {
            self.error(
                &format!("{parent}/{key}"),
                format!(
                    "nests {depth} levels deep; at most {} are allowed",
                    self.limits.max_nesting_depth
                ),
            );
            return None;
        }
        if size > self.limits.max_free_json_bytes {
            self.error(
                &format!("{parent}/{key}"),
                format!(
                    "is {size} bytes as JSON; at most {} are allowed",
                    self.limits.max_free_json_bytes
                ),
            );
            return None;
        }
        Some(inner)
    }
}

/// The rules every typed string field follows: not empty, at most `max_chars` characters, and
/// its own `rule`. Shared by the `Value` walker and the typed fast path (`crate::wire`).
pub(crate) fn check_text(text: &str, max_chars: usize, rule: Rule) -> Result<(), String> {
    if text.is_empty() {
        return Err("must not be empty (omit the field instead)".into());
    }
    // Byte length bounds the character count from above, so most strings skip the count.
    if text.len() > max_chars {
        let chars = text.chars().count();
        if chars > max_chars {
            return Err(format!(
                "is {chars} characters long; at most {max_chars} are allowed"
            ));
        }
    }
    check_rule(rule, text)
}

/// Whether every byte of `text` is ASCII from `low` up to `~` (DEL and above are out): every
/// string of every event passes through here.
#[inline]
fn all_bytes_in(text: &str, low: u8) -> bool {
    crate::byte_scan::all_ascii_from(text.as_bytes(), low)
}

fn check_rule(rule: Rule, text: &str) -> Result<(), String> {
    match rule {
        Rule::Text => {
            // ASCII fast path: only bytes below 0x20, DEL, or any non-ASCII need the char check.
            if !all_bytes_in(text, 0x20) && text.chars().any(char::is_control) {
                return Err("must not contain control characters".into());
            }
        }
        Rule::IdempotencyKey => {
            if !all_bytes_in(text, 0x21) {
                return Err("may hold only printable ASCII characters without spaces".into());
            }
        }
        Rule::Action => check_action(text)?,
        Rule::Email => {
            // One `@`, with something on both sides, and no space or control character.
            let ats = text.bytes().filter(|&b| b == b'@').count();
            let ok = ats == 1
                && !text.starts_with('@')
                && !text.ends_with('@')
                && (all_bytes_in(text, 0x21)
                    || !text.chars().any(|c| c.is_whitespace() || c.is_control()));
            if !ok {
                return Err(format!("`{}` is not an email address", clip(text)));
            }
        }
        Rule::IpAddress => {
            if text.parse::<IpAddr>().is_err() {
                return Err(format!("`{}` is not an IPv4 or IPv6 address", clip(text)));
            }
        }
    }
    Ok(())
}

/// The namespace of the events the service records about itself (who read the log, who changed
/// its keys and destinations): no client may write into it, so those events cannot be forged.
pub const RESERVED_ACTION_PREFIX: &str = "auditlog.";

/// `user.login`, `project.release`, `git.commit`: two or more dot-separated segments of lowercase
/// ASCII letters, digits, `_` and `-`, the first starting with a letter, outside the reserved
/// `auditlog.` namespace.
pub fn check_action(text: &str) -> Result<(), String> {
    let explain = "must be a dotted lowercase name such as `user.login`: two or more segments of a-z, 0-9, `_` or `-`, joined by dots, starting with a letter";
    // One pass over the bytes: allowed bytes, no empty segment (no leading, doubled or
    // trailing dot: the first byte must be a letter), at least one dot.
    let bytes = text.as_bytes();
    let mut ok = bytes.first().is_some_and(u8::is_ascii_lowercase) && !text.ends_with('.');
    let (mut dots, mut after_dot) = (0usize, false);
    for &b in bytes {
        let dot = b == b'.';
        ok &= (dot && !after_dot)
            || b.is_ascii_lowercase()
            || b.is_ascii_digit()
            || b == b'_'
            || b == b'-';
        dots += usize::from(dot);
        after_dot = dot;
    }
    if !ok || dots == 0 {
        return Err(format!("`{}` {explain}", clip(text)));
    }
    if text.starts_with(RESERVED_ACTION_PREFIX) {
        return Err(format!(
            "`{}` is in the reserved `auditlog.` namespace: the service records those events itself",
            clip(text)
        ));
    }
    Ok(())
}

/// Quotes of user input in messages are cut, so an error never echoes a huge value.
fn clip(text: &str) -> String {
    const MAX: usize = 64;
    if text.chars().count() <= MAX {
        text.to_string()
    } else {
        let mut cut: String = text.chars().take(MAX).collect();
        cut.push('…');
        cut
    }
}

/// Nesting depth (an object holding only scalars is 1) and exact compact-JSON byte length of
/// an object, in one walk and without serializing it.
pub fn measure_object(map: &Map<String, Value>) -> (usize, usize) {
    let mut depth = 0;
    let mut len = 2 + map.len().saturating_sub(1);
    for (key, value) in map {
        let (d, l) = measure_value(value);
        depth = depth.max(d);
        len += json_string_len(key) + 1 + l;
    }
    (depth + 1, len)
}

fn measure_value(value: &Value) -> (usize, usize) {
    match value {
        Value::Null => (0, 4),
        Value::Bool(b) => (0, if *b { 4 } else { 5 }),
        Value::Number(n) => (0, number_len(n)),
        Value::String(s) => (0, json_string_len(s)),
        Value::Array(items) => {
            let mut depth = 0;
            let mut len = 2 + items.len().saturating_sub(1);
            for item in items {
                let (d, l) = measure_value(item);
                depth = depth.max(d);
                len += l;
            }
            (depth + 1, len)
        }
        Value::Object(map) => measure_object(map),
    }
}

pub(crate) fn number_len(n: &serde_json::Number) -> usize {
    if let Some(u) = n.as_u64() {
        digits(u)
    } else if let Some(i) = n.as_i64() {
        1 + digits(i.unsigned_abs())
    } else {
        // Floats are rare in audit metadata; let serde_json format them exactly as it will.
        compact_len(n)
    }
}

fn digits(mut n: u64) -> usize {
    let mut count = 1;
    while n >= 10 {
        n /= 10;
        count += 1;
    }
    count
}

/// Length of a string as serde_json writes it: quotes, two-byte escapes for `"`, `\\` and the
/// common control characters, `\u00XX` for the other control characters, everything else as is.
pub(crate) fn json_string_len(s: &str) -> usize {
    let mut len = 2 + s.len();
    // Nearly every string needs no escape; one vectorized pass tells.
    if !crate::byte_scan::needs_json_escape(s.as_bytes()) {
        return len;
    }
    for b in s.bytes() {
        match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => len += 1,
            0x00..=0x1f => len += 5,
            _ => {}
        }
    }
    len
}

/// Byte length of the compact JSON serialization, without building the string.
pub fn compact_len<T: serde::Serialize + ?Sized>(value: &T) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    match serde_json::to_writer(&mut counter, value) {
        Ok(()) => counter.0,
        Err(_) => usize::MAX,
    }
}

/// The allowed name closest to a mistyped one, if it is close enough to be a typo.
fn nearest<'a>(key: &str, allowed: &[&'a str]) -> Option<&'a str> {
    let key = key.to_ascii_lowercase();
    allowed
        .iter()
        .map(|candidate| (edit_distance(&key, candidate), *candidate))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4) && *d < c.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(row[j]).min(current)
            };
            prev = current;
        }
    }
    row[b.len()]
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

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
                    && s.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
                    })
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
}
