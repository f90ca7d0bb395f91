//! The stored JSON of an [`Event`], written by hand: the bytes `serde_json::to_string(&event)`
//! gives (the derived `Serialize`, in the types' field order, skipping what they skip), through
//! the faster writer of [`crate::json_write`]. Ingest writes one per event.
//!
//! The writer also notes where each member's value lies in the output ([`Spans`]): the canonical
//! form (the receipt, [`crate::integrity::event_receipt`]) holds the same values in another
//! member order, so it is put together from these bytes instead of being written again.
//!
//! Every struct is destructured whole, so a field added to the event types stops this file
//! compiling until it is written here too; the tests hold the bytes to serde_json's over
//! generated events.

use serde_json::{Map, Value};

use crate::event::{Actor, CompactString, Context, Event, Request, Source, Target};
use crate::json_write::{self, Members, key};
use crate::wire::free::FreeObject;

/// A free-form object to write: an event's own map, or the tree the fast path of ingest read
/// (which builds no map, `crate::wire::free`).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Free<'a> {
    Map(&'a Map<String, Value>),
    Tree(&'a FreeObject<'a>),
}

impl Free<'_> {
    fn write(self, out: &mut Vec<u8>) {
        match self {
            Free::Map(map) => json_write::object(out, map),
            Free::Tree(tree) => tree.write(out),
        }
    }
}

/// An event's free-form objects (`metadata`, `request.params`), given beside it: the writers
/// take them from here, never from the event. And what the fast path of ingest knows about the
/// event's other strings.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FreeParts<'a> {
    pub metadata: Option<Free<'a>>,
    pub params: Option<Free<'a>>,
    /// Every string of the event's typed fields but `tenant` needs no JSON escape, so the writer
    /// copies them without looking (a tenth of writing an event): the fast path read each one as
    /// serde_json lent it, which it does only for a string that held no escape in the request,
    /// hence no `"`, `\` or control character (JSON allows none of them bare).
    pub plain_text: bool,
}

impl<'a> FreeParts<'a> {
    /// The event's own.
    pub(crate) fn of(event: &'a Event) -> FreeParts<'a> {
        FreeParts {
            metadata: event.metadata.as_ref().map(Free::Map),
            params: event
                .request
                .as_ref()
                .and_then(|r| r.params.as_ref())
                .map(Free::Map),
            plain_text: false,
        }
    }
}

/// Where one value lies in the written JSON (strings with their quotes).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Span {
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, Default)]
pub(crate) struct Spans {
    pub schema_version: Span,
    pub id: Span,
    pub tenant: Span,
    pub received_at: Span,
    pub occurred_at: Span,
    pub action: Span,
    pub actor: ActorSpans,
    pub outcome: Span,
    pub targets: Vec<TargetSpans>,
    pub context: Option<ContextSpans>,
    pub source: Option<SourceSpans>,
    pub request: Option<RequestSpans>,
    pub metadata: Option<Span>,
}

#[derive(Debug, Default)]
pub(crate) struct ActorSpans {
    pub id: Span,
    pub kind: Span,
    pub email: Option<Span>,
    pub name: Option<Span>,
}

#[derive(Debug)]
pub(crate) struct TargetSpans {
    pub id: Span,
    pub kind: Option<Span>,
    pub name: Option<Span>,
}

#[derive(Debug)]
pub(crate) struct ContextSpans {
    pub ip_address: Option<Span>,
    pub user_agent: Option<Span>,
    pub request_id: Option<Span>,
    pub session_id: Option<Span>,
    pub location: Option<Span>,
}

#[derive(Debug)]
pub(crate) struct SourceSpans {
    pub service: Option<Span>,
    pub environment: Option<Span>,
    pub version: Option<Span>,
}

#[derive(Debug)]
pub(crate) struct RequestSpans {
    pub operation: Option<Span>,
    pub params: Option<Span>,
    pub response_code: Option<Span>,
    pub latency_ms: Option<Span>,
}

/// Writes one value and gives where it went.
#[inline]
fn spanned(out: &mut Vec<u8>, write: impl FnOnce(&mut Vec<u8>)) -> Span {
    let start = out.len();
    write(out);
    Span {
        start,
        end: out.len(),
    }
}

/// Writes a string value; `plain`: known to need no escape ([`FreeParts::plain_text`]).
#[inline]
fn string(out: &mut Vec<u8>, value: &str, plain: bool) -> Span {
    spanned(out, |out| {
        if plain {
            json_write::plain_string(out, value)
        } else {
            json_write::string(out, value)
        }
    })
}

/// Writes `key` (from [`key!`], with any comma before it) and a string value.
#[inline]
fn text(out: &mut Vec<u8>, key: &[u8], value: &str, plain: bool) -> Span {
    out.extend_from_slice(key);
    string(out, value, plain)
}

fn opt_text(
    out: &mut Vec<u8>,
    key: &[u8],
    value: Option<&CompactString>,
    plain: bool,
) -> Option<Span> {
    value.map(|v| text(out, key, v, plain))
}

fn member_text(
    m: &mut Members<'_>,
    key: &[u8],
    value: Option<&CompactString>,
    plain: bool,
) -> Option<Span> {
    value.map(|v| string(m.key(key), v, plain))
}

/// Appends the stored JSON of `event` with the free-form objects `free`; gives where each value
/// went. Its first member is always there, so every later one starts with a comma.
pub(crate) fn write_event(event: &Event, free: FreeParts<'_>, out: &mut Vec<u8>) -> Spans {
    let Event {
        schema_version,
        id,
        tenant,
        received_at,
        occurred_at,
        action,
        actor,
        outcome,
        targets,
        context,
        source,
        request,
        // Written from `free`.
        metadata: _,
    } = event;
    let plain = free.plain_text;
    out.extend_from_slice(key!(open "schema_version"));
    let mut spans = Spans {
        schema_version: spanned(out, |o| json_write::unsigned(o, u64::from(*schema_version))),
        id: text(out, key!(, "id"), id, plain),
        // From the key that authenticated the request, not from the event.
        tenant: text(out, key!(, "tenant"), tenant, false),
        received_at: {
            out.extend_from_slice(key!(, "received_at"));
            spanned(out, |o| received_at.write_json_repeated(o))
        },
        occurred_at: {
            out.extend_from_slice(key!(, "occurred_at"));
            spanned(out, |o| occurred_at.write_json(o))
        },
        action: text(out, key!(, "action"), action, plain),
        actor: {
            out.extend_from_slice(key!(, "actor"));
            write_actor(actor, plain, out)
        },
        outcome: text(out, key!(, "outcome"), outcome.as_str(), true),
        ..Spans::default()
    };
    if !targets.is_empty() {
        out.extend_from_slice(key!(, "targets"));
        out.push(b'[');
        spans.targets.reserve_exact(targets.len());
        for (i, target) in targets.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            spans.targets.push(write_target(target, plain, out));
        }
        out.push(b']');
    }
    if let Some(context) = context {
        out.extend_from_slice(key!(, "context"));
        spans.context = Some(write_context(context, plain, out));
    }
    if let Some(source) = source {
        out.extend_from_slice(key!(, "source"));
        spans.source = Some(write_source(source, plain, out));
    }
    if let Some(request) = request {
        out.extend_from_slice(key!(, "request"));
        spans.request = Some(write_request(request, free.params, plain, out));
    }
    if let Some(metadata) = free.metadata {
        out.extend_from_slice(key!(, "metadata"));
        spans.metadata = Some(spanned(out, |o| metadata.write(o)));
    }
    out.push(b'}');
    spans
}

fn write_actor(actor: &Actor, plain: bool, out: &mut Vec<u8>) -> ActorSpans {
    let Actor {
        id,
        kind,
        email,
        name,
    } = actor;
    let spans = ActorSpans {
        id: text(out, key!(open "id"), id, plain),
        kind: text(out, key!(, "type"), kind.as_str(), true),
        email: opt_text(out, key!(, "email"), email.as_ref(), plain),
        name: opt_text(out, key!(, "name"), name.as_ref(), plain),
    };
    out.push(b'}');
    spans
}

fn write_target(target: &Target, plain: bool, out: &mut Vec<u8>) -> TargetSpans {
    let Target { id, kind, name } = target;
    let spans = TargetSpans {
        id: text(out, key!(open "id"), id, plain),
        kind: opt_text(out, key!(, "type"), kind.as_ref(), plain),
        name: opt_text(out, key!(, "name"), name.as_ref(), plain),
    };
    out.push(b'}');
    spans
}

fn write_context(context: &Context, plain: bool, out: &mut Vec<u8>) -> ContextSpans {
    let Context {
        ip_address,
        user_agent,
        request_id,
        session_id,
        location,
    } = context;
    let mut m = Members::open(out);
    let spans = ContextSpans {
        ip_address: member_text(&mut m, key!("ip_address"), ip_address.as_ref(), plain),
        user_agent: member_text(&mut m, key!("user_agent"), user_agent.as_ref(), plain),
        request_id: member_text(&mut m, key!("request_id"), request_id.as_ref(), plain),
        session_id: member_text(&mut m, key!("session_id"), session_id.as_ref(), plain),
        location: member_text(&mut m, key!("location"), location.as_ref(), plain),
    };
    m.close();
    spans
}

fn write_source(source: &Source, plain: bool, out: &mut Vec<u8>) -> SourceSpans {
    let Source {
        service,
        environment,
        version,
    } = source;
    let mut m = Members::open(out);
    let spans = SourceSpans {
        service: member_text(&mut m, key!("service"), service.as_ref(), plain),
        environment: member_text(&mut m, key!("environment"), environment.as_ref(), plain),
        version: member_text(&mut m, key!("version"), version.as_ref(), plain),
    };
    m.close();
    spans
}

fn write_request(
    request: &Request,
    params: Option<Free<'_>>,
    plain: bool,
    out: &mut Vec<u8>,
) -> RequestSpans {
    let Request {
        operation,
        // Written from `params`.
        params: _,
        response_code,
        latency_ms,
    } = request;
    let mut m = Members::open(out);
    let spans = RequestSpans {
        operation: member_text(&mut m, key!("operation"), operation.as_ref(), plain),
        params: params.map(|p| spanned(m.key(key!("params")), |o| p.write(o))),
        response_code: response_code.map(|c| {
            spanned(m.key(key!("response_code")), |o| {
                json_write::unsigned(o, u64::from(c))
            })
        }),
        latency_ms: latency_ms
            .map(|l| spanned(m.key(key!("latency_ms")), |o| json_write::unsigned(o, l))),
    };
    m.close();
    spans
}
