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

use crate::event::{Actor, Context, Event, Request, Source, Target};
use crate::json_write::{self, Members};

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

/// Writes one member's value and gives where it went.
fn spanned(out: &mut Vec<u8>, write: impl FnOnce(&mut Vec<u8>)) -> Span {
    let start = out.len();
    write(out);
    Span {
        start,
        end: out.len(),
    }
}

fn text(m: &mut Members<'_>, key: &str, value: &str) -> Span {
    spanned(m.key(key), |out| json_write::string(out, value))
}

fn opt_text(m: &mut Members<'_>, key: &str, value: Option<&String>) -> Option<Span> {
    value.map(|v| text(m, key, v))
}

fn unsigned(m: &mut Members<'_>, key: &str, value: u64) -> Span {
    spanned(m.key(key), |out| json_write::unsigned(out, value))
}

fn object(m: &mut Members<'_>, key: &str, value: &Map<String, Value>) -> Span {
    spanned(m.key(key), |out| json_write::object(out, value))
}

/// Appends the stored JSON of `event`; gives where each value went.
pub(crate) fn write_event(event: &Event, out: &mut Vec<u8>) -> Spans {
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
        metadata,
    } = event;
    let mut m = Members::open(out);
    let mut spans = Spans {
        schema_version: unsigned(&mut m, "schema_version", u64::from(*schema_version)),
        id: text(&mut m, "id", id),
        tenant: text(&mut m, "tenant", tenant),
        received_at: spanned(m.key("received_at"), |out| received_at.write_json(out)),
        occurred_at: spanned(m.key("occurred_at"), |out| occurred_at.write_json(out)),
        action: text(&mut m, "action", action),
        actor: write_actor(actor, m.key("actor")),
        outcome: text(&mut m, "outcome", outcome.as_str()),
        ..Spans::default()
    };
    if !targets.is_empty() {
        let out = m.key("targets");
        out.push(b'[');
        spans.targets.reserve_exact(targets.len());
        for (i, target) in targets.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            spans.targets.push(write_target(target, out));
        }
        out.push(b']');
    }
    spans.context = context.as_ref().map(|c| write_context(c, m.key("context")));
    spans.source = source.as_ref().map(|s| write_source(s, m.key("source")));
    spans.request = request.as_ref().map(|r| write_request(r, m.key("request")));
    spans.metadata = metadata.as_ref().map(|md| object(&mut m, "metadata", md));
    m.close();
    spans
}

fn write_actor(actor: &Actor, out: &mut Vec<u8>) -> ActorSpans {
    let Actor {
        id,
        kind,
        email,
        name,
    } = actor;
    let mut m = Members::open(out);
    let spans = ActorSpans {
        id: text(&mut m, "id", id),
        kind: text(&mut m, "type", kind.as_str()),
        email: opt_text(&mut m, "email", email.as_ref()),
        name: opt_text(&mut m, "name", name.as_ref()),
    };
    m.close();
    spans
}

fn write_target(target: &Target, out: &mut Vec<u8>) -> TargetSpans {
    let Target { id, kind, name } = target;
    let mut m = Members::open(out);
    let spans = TargetSpans {
        id: text(&mut m, "id", id),
        kind: opt_text(&mut m, "type", kind.as_ref()),
        name: opt_text(&mut m, "name", name.as_ref()),
    };
    m.close();
    spans
}

fn write_context(context: &Context, out: &mut Vec<u8>) -> ContextSpans {
    let Context {
        ip_address,
        user_agent,
        request_id,
        session_id,
        location,
    } = context;
    let mut m = Members::open(out);
    let spans = ContextSpans {
        ip_address: opt_text(&mut m, "ip_address", ip_address.as_ref()),
        user_agent: opt_text(&mut m, "user_agent", user_agent.as_ref()),
        request_id: opt_text(&mut m, "request_id", request_id.as_ref()),
        session_id: opt_text(&mut m, "session_id", session_id.as_ref()),
        location: opt_text(&mut m, "location", location.as_ref()),
    };
    m.close();
    spans
}

fn write_source(source: &Source, out: &mut Vec<u8>) -> SourceSpans {
    let Source {
        service,
        environment,
        version,
    } = source;
    let mut m = Members::open(out);
    let spans = SourceSpans {
        service: opt_text(&mut m, "service", service.as_ref()),
        environment: opt_text(&mut m, "environment", environment.as_ref()),
        version: opt_text(&mut m, "version", version.as_ref()),
    };
    m.close();
    spans
}

fn write_request(request: &Request, out: &mut Vec<u8>) -> RequestSpans {
    let Request {
        operation,
        params,
        response_code,
        latency_ms,
    } = request;
    let mut m = Members::open(out);
    let spans = RequestSpans {
        operation: opt_text(&mut m, "operation", operation.as_ref()),
        params: params.as_ref().map(|p| object(&mut m, "params", p)),
        response_code: response_code.map(|c| unsigned(&mut m, "response_code", u64::from(c))),
        latency_ms: latency_ms.map(|l| unsigned(&mut m, "latency_ms", l)),
    };
    m.close();
    spans
}
