//! The receipt of a typed [`Event`], computed from its fields: the canonical form (RFC 8785) is
//! written member by member in sorted order, with no JSON tree in between. The bytes are those
//! [`super::receipt`] gets by parsing the event's stored JSON and canonicalizing that, at a
//! fraction of the cost, so ingest can give every receipt once and the store can keep it beside
//! the event for the exporter.
//!
//! Every struct is destructured whole: a field added to the event types stops this file
//! compiling until it is written here too. The members are in sorted order by hand (all keys
//! are ASCII, so UTF-16 order is byte order); the tests check the bytes against `receipt` over
//! every fixture and over generated events.

use serde::Serialize;
use serde_json::{Map, Value};

use super::{IntegrityError, sha256_hex, write_canonical, write_canonical_object};
use crate::event::{Actor, Context, Event, Request, Source, Target};

/// The receipt of `event`: the SHA-256 (hex) of its canonical form, equal to
/// `receipt(&event.to_json())`.
pub fn event_receipt(event: &Event) -> Result<String, IntegrityError> {
    let mut out = Vec::with_capacity(512);
    write_event(event, &mut out)?;
    Ok(sha256_hex(&out))
}

/// Writes one object's members in the order the caller gives them (sorted), each key once.
struct Members<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Members<'a> {
    fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Members { out, first: true }
    }

    /// Starts a member; `key` is one of the schema's names, which need no escaping.
    fn key(&mut self, key: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    /// A string, or any value whose JSON is a string (timestamps, enums): serde_json escapes
    /// strings exactly as JCS does.
    fn text<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<(), IntegrityError> {
        serde_json::to_writer(&mut *self.key(key), value)
            .map_err(|e| IntegrityError::Canonical(e.to_string()))
    }

    fn opt_text(&mut self, key: &str, value: Option<&String>) -> Result<(), IntegrityError> {
        match value {
            Some(v) => self.text(key, v),
            None => Ok(()),
        }
    }

    /// An integer, written as `receipt` writes the parsed number (the same rule for big ones).
    fn number(&mut self, key: &str, value: u64) -> Result<(), IntegrityError> {
        write_canonical(&Value::from(value), self.key(key))
    }

    fn object(&mut self, key: &str, value: &Map<String, Value>) -> Result<(), IntegrityError> {
        write_canonical_object(value, self.key(key))
    }

    fn close(self) {
        self.out.push(b'}');
    }
}

fn write_event(event: &Event, out: &mut Vec<u8>) -> Result<(), IntegrityError> {
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
    m.text("action", action)?;
    write_actor(actor, m.key("actor"))?;
    if let Some(context) = context {
        write_context(context, m.key("context"))?;
    }
    m.text("id", id)?;
    if let Some(metadata) = metadata {
        m.object("metadata", metadata)?;
    }
    m.text("occurred_at", occurred_at)?;
    m.text("outcome", outcome.as_str())?;
    m.text("received_at", received_at)?;
    if let Some(request) = request {
        write_request(request, m.key("request"))?;
    }
    m.number("schema_version", u64::from(*schema_version))?;
    if let Some(source) = source {
        write_source(source, m.key("source"))?;
    }
    if !targets.is_empty() {
        let out = m.key("targets");
        out.push(b'[');
        for (i, target) in targets.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_target(target, out)?;
        }
        out.push(b']');
    }
    m.text("tenant", tenant)?;
    m.close();
    Ok(())
}

fn write_actor(actor: &Actor, out: &mut Vec<u8>) -> Result<(), IntegrityError> {
    let Actor {
        id,
        kind,
        email,
        name,
    } = actor;
    let mut m = Members::open(out);
    m.opt_text("email", email.as_ref())?;
    m.text("id", id)?;
    m.opt_text("name", name.as_ref())?;
    m.text("type", kind)?;
    m.close();
    Ok(())
}

fn write_target(target: &Target, out: &mut Vec<u8>) -> Result<(), IntegrityError> {
    let Target { id, kind, name } = target;
    let mut m = Members::open(out);
    m.text("id", id)?;
    m.opt_text("name", name.as_ref())?;
    m.opt_text("type", kind.as_ref())?;
    m.close();
    Ok(())
}

fn write_context(context: &Context, out: &mut Vec<u8>) -> Result<(), IntegrityError> {
    let Context {
        ip_address,
        user_agent,
        request_id,
        session_id,
        location,
    } = context;
    let mut m = Members::open(out);
    m.opt_text("ip_address", ip_address.as_ref())?;
    m.opt_text("location", location.as_ref())?;
    m.opt_text("request_id", request_id.as_ref())?;
    m.opt_text("session_id", session_id.as_ref())?;
    m.opt_text("user_agent", user_agent.as_ref())?;
    m.close();
    Ok(())
}

fn write_source(source: &Source, out: &mut Vec<u8>) -> Result<(), IntegrityError> {
    let Source {
        service,
        environment,
        version,
    } = source;
    let mut m = Members::open(out);
    m.opt_text("environment", environment.as_ref())?;
    m.opt_text("service", service.as_ref())?;
    m.opt_text("version", version.as_ref())?;
    m.close();
    Ok(())
}

fn write_request(request: &Request, out: &mut Vec<u8>) -> Result<(), IntegrityError> {
    let Request {
        operation,
        params,
        response_code,
        latency_ms,
    } = request;
    let mut m = Members::open(out);
    if let Some(latency) = latency_ms {
        m.number("latency_ms", *latency)?;
    }
    m.opt_text("operation", operation.as_ref())?;
    if let Some(params) = params {
        m.object("params", params)?;
    }
    if let Some(code) = response_code {
        m.number("response_code", u64::from(*code))?;
    }
    m.close();
    Ok(())
}

#[cfg(test)]
mod tests;
