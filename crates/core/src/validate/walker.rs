//! The `Value` walker: one client-supplied JSON value into an [`Event`], or into the full list
//! of what is wrong with it, each problem named by its JSON pointer. Values are moved out of
//! the parsed tree, never cloned.

use serde_json::{Map, Value};

use super::rules::clip;
use super::*;
use crate::event::{
    Actor, ActorType, CompactString, Context, Event, Outcome, Request, SCHEMA_VERSION, Source,
    Target,
};
use crate::time::{self, Timestamp};

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
        id: id.unwrap_or_else(|| fresh_id().into()),
        tenant: ctx.tenant.into(),
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
    ) -> Option<CompactString> {
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
            self.error(&format!("{parent}/{key}"), message.to_string());
            return None;
        }
        Some(text.into())
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

/// A number JSON Schema calls an integer: `42`, or `42.0` (a zero fraction), as the published
/// schema (`"type": "integer"`) accepts it. Fractions, and floats too large to be exact, are not.
pub(super) fn whole(n: &serde_json::Number) -> Option<i128> {
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

/// The allowed name closest to a mistyped one, if it is close enough to be a typo.
pub(super) fn nearest<'a>(key: &str, allowed: &[&'a str]) -> Option<&'a str> {
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
