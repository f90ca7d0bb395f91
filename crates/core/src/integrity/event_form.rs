//! The receipt of a typed [`Event`]: its canonical form (RFC 8785) put together from the bytes of
//! its stored JSON, with no JSON tree in between. The stored JSON ([`crate::event_json`]) notes
//! where each value went; the canonical form holds the same values (a string, a timestamp or a
//! small integer is spelled the same way in both) with every object's members in sorted order,
//! so this file writes the keys in that order and copies each value. Free-form objects
//! (`metadata`, `request.params`) are copied too when their stored bytes are already canonical
//! (members in UTF-16 order, integers only, none past 2^53); otherwise they are written anew.
//! The bytes are those [`super::receipt`] gets by parsing the stored JSON and canonicalizing
//! that, at a fraction of the cost, so ingest gives every receipt once and the store keeps it
//! beside the event for the exporter.
//!
//! Every struct is destructured whole: a field added to the event types stops this file
//! compiling until it is written here too. The members are in sorted order by hand (all keys
//! are ASCII, so UTF-16 order is byte order); the tests check the bytes against `receipt` over
//! every fixture and over generated events.

use serde_json::{Map, Value};

use super::{IntegrityError, iterates_in_utf16_order, sha256_hex, write_canonical_object};
use crate::event::{Event, Request};
use crate::event_json::{
    ActorSpans, ContextSpans, RequestSpans, SourceSpans, Span, Spans, TargetSpans, write_event,
};
use crate::json_write::Members;

/// The receipt of `event`: the SHA-256 (hex) of its canonical form, equal to
/// `receipt(&event.to_json())`.
pub fn event_receipt(event: &Event) -> Result<String, IntegrityError> {
    stored_and_receipt(event).map(|(_, receipt)| receipt)
}

/// The stored JSON of `event` ([`Event::to_json`]) and its receipt, each written once.
pub fn stored_and_receipt(event: &Event) -> Result<(String, String), IntegrityError> {
    let mut stored = Vec::with_capacity(1024);
    let spans = write_event(event, &mut stored);
    // The canonical form is as long as the stored one, give or take a number's spelling.
    let mut canonical = Vec::with_capacity(stored.len() + 64);
    Copier { stored: &stored }.event(event, &spans, &mut canonical)?;
    let receipt = sha256_hex(&canonical);
    // The writer only copies whole `str`s and writes ASCII around them.
    let stored = String::from_utf8(stored).map_err(|e| IntegrityError::Canonical(e.to_string()))?;
    Ok((stored, receipt))
}

/// Whether the stored bytes of `map` are its canonical bytes too: members already in UTF-16
/// order at every depth, and every number an integer JCS spells as serde_json does.
fn stored_is_canonical(map: &Map<String, Value>) -> bool {
    fn value_is(value: &Value) -> bool {
        const SAFE_INTEGER: u64 = 1 << 53;
        match value {
            Value::Number(n) => {
                n.as_u64().is_some_and(|u| u <= SAFE_INTEGER)
                    || n.as_i64().is_some_and(|i| i.unsigned_abs() <= SAFE_INTEGER)
            }
            Value::Array(items) => items.iter().all(value_is),
            Value::Object(map) => stored_is_canonical(map),
            Value::Null | Value::Bool(_) | Value::String(_) => true,
        }
    }
    iterates_in_utf16_order(map) && map.values().all(value_is)
}

/// Writes canonical members, copying each value from the stored JSON. Each span struct is
/// destructured whole, so every value the stored JSON holds is copied.
struct Copier<'a> {
    stored: &'a [u8],
}

impl Copier<'_> {
    fn member(&self, m: &mut Members<'_>, key: &str, span: Span) {
        let bytes = self.stored.get(span.start..span.end).unwrap_or_default();
        m.key(key).extend_from_slice(bytes);
    }

    fn opt_member(&self, m: &mut Members<'_>, key: &str, span: Option<Span>) {
        if let Some(span) = span {
            self.member(m, key, span);
        }
    }

    /// A free-form object: copied when its stored bytes are canonical, else written anew.
    fn object(
        &self,
        m: &mut Members<'_>,
        key: &str,
        map: Option<&Map<String, Value>>,
        span: Option<Span>,
    ) -> Result<(), IntegrityError> {
        match (map, span) {
            (Some(map), Some(span)) if stored_is_canonical(map) => {
                self.member(m, key, span);
                Ok(())
            }
            (Some(map), _) => write_canonical_object(map, m.key(key)),
            (None, _) => Ok(()),
        }
    }

    fn event(&self, event: &Event, spans: &Spans, out: &mut Vec<u8>) -> Result<(), IntegrityError> {
        let Spans {
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
        } = spans;
        let mut m = Members::open(out);
        self.member(&mut m, "action", *action);
        self.actor(actor, m.key("actor"));
        if let Some(context) = context {
            self.context(context, m.key("context"));
        }
        self.member(&mut m, "id", *id);
        self.object(&mut m, "metadata", event.metadata.as_ref(), *metadata)?;
        self.member(&mut m, "occurred_at", *occurred_at);
        self.member(&mut m, "outcome", *outcome);
        self.member(&mut m, "received_at", *received_at);
        if let (Some(request), Some(spans)) = (&event.request, request) {
            self.request(request, spans, m.key("request"))?;
        }
        self.member(&mut m, "schema_version", *schema_version);
        if let Some(source) = source {
            self.source(source, m.key("source"));
        }
        if !targets.is_empty() {
            let out = m.key("targets");
            out.push(b'[');
            for (i, target) in targets.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                self.target(target, out);
            }
            out.push(b']');
        }
        self.member(&mut m, "tenant", *tenant);
        m.close();
        Ok(())
    }

    fn actor(&self, spans: &ActorSpans, out: &mut Vec<u8>) {
        let ActorSpans {
            id,
            kind,
            email,
            name,
        } = spans;
        let mut m = Members::open(out);
        self.opt_member(&mut m, "email", *email);
        self.member(&mut m, "id", *id);
        self.opt_member(&mut m, "name", *name);
        self.member(&mut m, "type", *kind);
        m.close();
    }

    fn target(&self, spans: &TargetSpans, out: &mut Vec<u8>) {
        let TargetSpans { id, kind, name } = spans;
        let mut m = Members::open(out);
        self.member(&mut m, "id", *id);
        self.opt_member(&mut m, "name", *name);
        self.opt_member(&mut m, "type", *kind);
        m.close();
    }

    fn context(&self, spans: &ContextSpans, out: &mut Vec<u8>) {
        let ContextSpans {
            ip_address,
            user_agent,
            request_id,
            session_id,
            location,
        } = spans;
        let mut m = Members::open(out);
        self.opt_member(&mut m, "ip_address", *ip_address);
        self.opt_member(&mut m, "location", *location);
        self.opt_member(&mut m, "request_id", *request_id);
        self.opt_member(&mut m, "session_id", *session_id);
        self.opt_member(&mut m, "user_agent", *user_agent);
        m.close();
    }

    fn source(&self, spans: &SourceSpans, out: &mut Vec<u8>) {
        let SourceSpans {
            service,
            environment,
            version,
        } = spans;
        let mut m = Members::open(out);
        self.opt_member(&mut m, "environment", *environment);
        self.opt_member(&mut m, "service", *service);
        self.opt_member(&mut m, "version", *version);
        m.close();
    }

    fn request(
        &self,
        request: &Request,
        spans: &RequestSpans,
        out: &mut Vec<u8>,
    ) -> Result<(), IntegrityError> {
        let RequestSpans {
            operation,
            params,
            response_code,
            latency_ms,
        } = spans;
        let mut m = Members::open(out);
        match request.latency_ms {
            // Past 2^53 JCS spells an integer as ECMAScript's double does.
            Some(latency) if latency > 1 << 53 => {
                super::write_canonical(&Value::from(latency), m.key("latency_ms"))?;
            }
            _ => self.opt_member(&mut m, "latency_ms", *latency_ms),
        }
        self.opt_member(&mut m, "operation", *operation);
        self.object(&mut m, "params", request.params.as_ref(), *params)?;
        self.opt_member(&mut m, "response_code", *response_code);
        m.close();
        Ok(())
    }
}

#[cfg(test)]
mod tests;
