//! The fast path of ingest: deserialize a request straight into borrowed, typed structs.
//!
//! Building a `serde_json::Value` tree for every event (a map node and a `String` per field) is
//! most of the cost of ingest. Well-formed events are the common case, so this module parses
//! them into the structs below, which borrow their strings from the request body, applies the
//! same rules as [`crate::validate`] (the same `check_text` and the same bounds), and builds the
//! stored [`Event`].
//!
//! It only ever *accepts*. When anything at all is off (a type mismatch, an unknown field, a
//! failed rule, a duplicate key) it gives up, and the caller runs the `Value` walker of
//! [`crate::validate`] on the same item, which finds and names every problem. So error answers
//! have exactly one implementation, and this path only has to be at least as strict as the
//! walker; the `fast_and_slow_paths_agree` tests check that accepted events are identical.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::event::{
    Actor, ActorType, CompactString, Context, Event, Outcome, Request, SCHEMA_VERSION, Source,
    Target,
};
use crate::event_json::{Free, FreeParts};
use crate::strict::{ObjectOnly, opt_object, opt_objects};
use crate::time;
use crate::validate::{
    IngestContext, MAX_ACTION_CHARS, MAX_EMAIL_CHARS, MAX_ID_CHARS, MAX_IP_CHARS, MAX_LABEL_CHARS,
    MAX_REF_CHARS, MAX_USER_AGENT_CHARS, PreparedEvent, Rule, check_text, stored_parts,
};
use free::FreeObject;

pub(crate) mod batch;
pub(crate) mod free;

type Text<'a> = Option<Cow<'a, str>>;

/// `{"events": [...]}` with nothing else: the items stay raw JSON text.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Envelope<'a> {
    #[serde(borrow)]
    pub events: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WireEvent<'a> {
    #[serde(borrow, default, deserialize_with = "opt_text")]
    id: Text<'a>,
    #[serde(borrow, default, deserialize_with = "opt_text")]
    action: Text<'a>,
    #[serde(borrow, default, deserialize_with = "opt_object")]
    actor: Option<WireActor<'a>>,
    #[serde(borrow, default)]
    occurred_at: Option<WireTime<'a>>,
    #[serde(borrow, default, deserialize_with = "opt_text")]
    outcome: Text<'a>,
    #[serde(borrow, default, deserialize_with = "opt_objects")]
    targets: Option<Vec<WireTarget<'a>>>,
    #[serde(borrow, default, deserialize_with = "opt_object")]
    context: Option<WireContext<'a>>,
    #[serde(borrow, default, deserialize_with = "opt_object")]
    source: Option<WireSource<'a>>,
    #[serde(borrow, default, deserialize_with = "opt_object")]
    request: Option<WireRequest<'a>>,
    #[serde(borrow, default, deserialize_with = "free::opt_free_object")]
    metadata: Option<FreeObject<'a>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireActor<'a> {
    #[serde(borrow, default, deserialize_with = "opt_text")]
    id: Text<'a>,
    #[serde(borrow, default, rename = "type", deserialize_with = "opt_text")]
    kind: Text<'a>,
    #[serde(borrow, default, deserialize_with = "opt_text")]
    email: Text<'a>,
    #[serde(borrow, default, deserialize_with = "opt_text")]
    name: Text<'a>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireTarget<'a> {
    #[serde(borrow, default, deserialize_with = "opt_text")]
    id: Text<'a>,
    #[serde(borrow, default, rename = "type", deserialize_with = "opt_text")]
    kind: Text<'a>,
    #[serde(borrow, default, deserialize_with = "opt_text")]
    name: Text<'a>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireContext<'a> {
    #[serde(borrow, default, deserialize_with = "opt_text")]
    ip_address: Text<'a>,
    #[serde(borrow, default, deserialize_with = "opt_text")]
    user_agent: Text<'a>,
    #[serde(borrow, default, deserialize_with = "opt_text")]
    request_id: Text<'a>,
    #[serde(borrow, default, deserialize_with = "opt_text")]
    session_id: Text<'a>,
    #[serde(borrow, default, deserialize_with = "opt_text")]
    location: Text<'a>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireSource<'a> {
    #[serde(borrow, default, deserialize_with = "opt_text")]
    service: Text<'a>,
    #[serde(borrow, default, deserialize_with = "opt_text")]
    environment: Text<'a>,
    #[serde(borrow, default, deserialize_with = "opt_text")]
    version: Text<'a>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireRequest<'a> {
    #[serde(borrow, default, deserialize_with = "opt_text")]
    operation: Text<'a>,
    #[serde(borrow, default, deserialize_with = "free::opt_free_object")]
    params: Option<FreeObject<'a>>,
    #[serde(default)]
    response_code: Option<u64>,
    #[serde(default)]
    latency_ms: Option<u64>,
}

/// `occurred_at`: RFC 3339 text or whole epoch milliseconds; anything else fails the parse.
enum WireTime<'a> {
    Text(Cow<'a, str>),
    Millis(i64),
}

impl<'de: 'a, 'a> Deserialize<'de> for WireTime<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = WireTime<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an RFC 3339 string or epoch milliseconds")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(WireTime::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(WireTime::Text(Cow::Owned(v.to_string())))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(WireTime::Millis(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
                i64::try_from(v)
                    .map(WireTime::Millis)
                    .map_err(|_| E::custom("out of range"))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// An optional string that borrows from the body when it has no escapes (serde's own
/// `Option<Cow<str>>` always copies). JSON `null` is absent, as in the walker.
fn opt_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    struct Visitor;
    impl<'de> serde::de::Visitor<'de> for Visitor {
        type Value = Option<Cow<'de, str>>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a string or null")
        }
        fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Borrowed(v)))
        }
        fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v.to_string())))
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(Visitor)
}

/// A missing or rule-breaking field: the caller falls back to the walker.
struct GiveUp;

/// Checks the strings of an event and makes its typed fields of them, noting whether serde_json
/// lent every one ([`FreeParts::plain_text`]).
struct Strings {
    all_lent: bool,
}

impl Strings {
    fn text(
        &mut self,
        value: Text<'_>,
        max_chars: usize,
        rule: Rule,
    ) -> Result<Option<CompactString>, GiveUp> {
        let Some(t) = value else { return Ok(None) };
        check_text(&t, max_chars, rule).map_err(|_| GiveUp)?;
        self.all_lent &= matches!(t, Cow::Borrowed(_));
        // Most values fit inside a `CompactString` (24 bytes): no allocation.
        Ok(Some(CompactString::from(t)))
    }

    fn required(
        &mut self,
        value: Text<'_>,
        max_chars: usize,
        rule: Rule,
    ) -> Result<CompactString, GiveUp> {
        self.text(value, max_chars, rule)?.ok_or(GiveUp)
    }

    /// The event's id: the client's, or a fresh one (which the writer cannot know is plain).
    fn id(
        &mut self,
        value: Text<'_>,
        fresh_id: &mut dyn FnMut() -> String,
    ) -> Result<CompactString, GiveUp> {
        match self.text(value, MAX_ID_CHARS, Rule::IdempotencyKey)? {
            Some(id) => Ok(id),
            None => {
                let fresh = fresh_id();
                self.all_lent &= !crate::byte_scan::needs_json_escape(fresh.as_bytes());
                Ok(fresh.into())
            }
        }
    }
}

/// A free-form object the fast path can take: within bounds, no repeated key (the walker's map
/// keeps the last, and its measure is the one to go by), and stored bytes that are canonical too
/// (else the walker's map writes the canonical form anew).
fn free_object<'a>(
    value: Option<FreeObject<'a>>,
    ctx: &IngestContext<'_>,
) -> Result<Option<FreeObject<'a>>, GiveUp> {
    match value {
        Some(o)
            if o.repeated_key
                || !o.canonical
                || o.depth > ctx.limits.max_nesting_depth
                || o.len > ctx.limits.max_free_json_bytes =>
        {
            Err(GiveUp)
        }
        value => Ok(value),
    }
}

/// What the fast path read of an event beside its typed fields: its free-form objects, and
/// whether every string of the typed fields was lent by serde_json.
#[derive(Default)]
struct Beside<'a> {
    metadata: Option<FreeObject<'a>>,
    params: Option<FreeObject<'a>>,
    plain_text: bool,
}

/// Tries the fast path on one event's JSON text. `None` means "run the walker".
pub(crate) fn prepare_fast(
    raw: &str,
    base: &str,
    ctx: &IngestContext<'_>,
    fresh_id: &mut dyn FnMut() -> String,
) -> Option<PreparedEvent> {
    let ObjectOnly(wire) = serde_json::from_str::<ObjectOnly<WireEvent<'_>>>(raw).ok()?;
    prepare_wire(wire, base, ctx, fresh_id)
}

/// Builds and finishes one typed event. `None` means "run the walker".
pub(crate) fn prepare_wire(
    wire: WireEvent<'_>,
    base: &str,
    ctx: &IngestContext<'_>,
    fresh_id: &mut dyn FnMut() -> String,
) -> Option<PreparedEvent> {
    let mut beside = Beside::default();
    let event = build(wire, ctx, fresh_id, &mut beside).ok()?;
    let mut redacted = 0;
    for tree in [&mut beside.params, &mut beside.metadata]
        .into_iter()
        .flatten()
    {
        redacted += tree.mask(ctx.redactor);
    }
    let free = FreeParts {
        metadata: beside.metadata.as_ref().map(Free::Tree),
        params: beside.params.as_ref().map(Free::Tree),
        plain_text: beside.plain_text,
    };
    // Its errors (stored size) are reported by the walker too, identically.
    let (json, receipt) = stored_parts(&event, free, base, ctx).ok()?;
    Some(PreparedEvent {
        event,
        json,
        receipt,
        redacted,
    })
}

/// The event's typed fields; the rest goes to `beside`.
fn build<'a>(
    w: WireEvent<'a>,
    ctx: &IngestContext<'_>,
    fresh_id: &mut dyn FnMut() -> String,
    beside: &mut Beside<'a>,
) -> Result<Event, GiveUp> {
    let mut st = Strings { all_lent: true };
    let id = st.id(w.id, fresh_id)?;
    let action = st.required(w.action, MAX_ACTION_CHARS, Rule::Action)?;
    let actor = actor(&mut st, w.actor.ok_or(GiveUp)?)?;
    let occurred_at = match w.occurred_at {
        None => ctx.received_at,
        Some(t) => occurred_at(t, ctx)?,
    };
    let outcome = match w.outcome.as_deref() {
        None => Outcome::Unknown,
        Some(o) => Outcome::parse(o).ok_or(GiveUp)?,
    };
    let targets = match w.targets {
        None => Vec::new(),
        Some(list) => targets(&mut st, list, ctx)?,
    };
    let context = match w.context {
        None => None,
        Some(c) => Some(Context {
            ip_address: st.text(c.ip_address, MAX_IP_CHARS, Rule::IpAddress)?,
            user_agent: st.text(c.user_agent, MAX_USER_AGENT_CHARS, Rule::Text)?,
            request_id: st.text(c.request_id, MAX_REF_CHARS, Rule::Text)?,
            session_id: st.text(c.session_id, MAX_REF_CHARS, Rule::Text)?,
            location: st.text(c.location, MAX_REF_CHARS, Rule::Text)?,
        }),
    };
    let source = match w.source {
        None => None,
        Some(src) => Some(Source {
            service: st.text(src.service, MAX_LABEL_CHARS, Rule::Text)?,
            environment: st.text(src.environment, MAX_LABEL_CHARS, Rule::Text)?,
            version: st.text(src.version, MAX_LABEL_CHARS, Rule::Text)?,
        }),
    };
    let request = match w.request {
        None => None,
        Some(r) => Some(Request {
            operation: st.text(r.operation, MAX_REF_CHARS, Rule::Text)?,
            params: {
                beside.params = free_object(r.params, ctx)?;
                None
            },
            response_code: match r.response_code {
                None => None,
                Some(code @ 100..=599) => Some(code as u16),
                Some(_) => return Err(GiveUp),
            },
            latency_ms: r.latency_ms,
        }),
    };
    beside.metadata = free_object(w.metadata, ctx)?;
    beside.plain_text = st.all_lent;
    Ok(Event {
        schema_version: SCHEMA_VERSION,
        id,
        tenant: ctx.tenant.into(),
        received_at: ctx.received_at,
        occurred_at,
        action,
        actor,
        outcome,
        targets,
        context,
        source,
        request,
        // In `beside`.
        metadata: None,
    })
}

fn actor(st: &mut Strings, a: WireActor<'_>) -> Result<Actor, GiveUp> {
    Ok(Actor {
        id: st.required(a.id, MAX_REF_CHARS, Rule::Text)?,
        kind: match a.kind.as_deref() {
            None => ActorType::User,
            Some(k) => ActorType::ALL
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, t)| *t)
                .ok_or(GiveUp)?,
        },
        email: st.text(a.email, MAX_EMAIL_CHARS, Rule::Email)?,
        name: st.text(a.name, MAX_REF_CHARS, Rule::Text)?,
    })
}

/// `occurred_at` as RFC 3339 text or epoch milliseconds, no further ahead than the skew allows.
fn occurred_at(t: WireTime<'_>, ctx: &IngestContext<'_>) -> Result<crate::Timestamp, GiveUp> {
    let parsed = match t {
        WireTime::Text(s) => time::parse_rfc3339(&s),
        WireTime::Millis(ms) => time::from_epoch_millis(ms),
    }
    .map_err(|_| GiveUp)?;
    let latest = ctx
        .received_at
        .0
        .saturating_add(ctx.limits.max_future_skew_ms);
    if parsed.0 > latest {
        return Err(GiveUp);
    }
    Ok(parsed)
}

fn targets(
    st: &mut Strings,
    list: Vec<WireTarget<'_>>,
    ctx: &IngestContext<'_>,
) -> Result<Vec<Target>, GiveUp> {
    if list.len() > ctx.limits.max_targets {
        return Err(GiveUp);
    }
    let mut targets = Vec::with_capacity(list.len());
    for t in list {
        targets.push(Target {
            id: st.required(t.id, MAX_REF_CHARS, Rule::Text)?,
            kind: st.text(t.kind, MAX_LABEL_CHARS, Rule::Text)?,
            name: st.text(t.name, MAX_REF_CHARS, Rule::Text)?,
        });
    }
    Ok(targets)
}

#[cfg(test)]
mod tests;
