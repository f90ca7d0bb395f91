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

use std::cell::RefCell;

use serde_json::{Map, Value};

use super::{
    IntegrityError, SAFE_INTEGER, is_safe_integer, iterates_in_utf16_order, sha256_hex,
    write_canonical, write_canonical_object,
};
use crate::event::{Event, Request};
use crate::event_json::{
    ActorSpans, ContextSpans, Free, FreeParts, RequestSpans, SourceSpans, Span, Spans, TargetSpans,
    write_event,
};
use crate::json_write::{Members, key};

/// The receipt of `event`: the SHA-256 (hex) of its canonical form, equal to
/// `receipt(&event.to_json())`.
pub fn event_receipt(event: &Event) -> Result<String, IntegrityError> {
    stored_and_receipt(event).map(|(_, receipt)| receipt)
}

/// The stored JSON of `event` ([`Event::to_json`]) and its receipt, each written once.
pub fn stored_and_receipt(event: &Event) -> Result<(String, String), IntegrityError> {
    stored_and_receipt_parts(event, FreeParts::of(event))
}

/// [`stored_and_receipt`] of `event` with the free-form objects `free` in place of its own.
pub(crate) fn stored_and_receipt_parts(
    event: &Event,
    free: FreeParts<'_>,
) -> Result<(String, String), IntegrityError> {
    // Both forms are written into buffers kept per thread: a batch writes hundreds of events,
    // and a fresh kilobyte for each (the stored one kept, oversized, until the batch is
    // stored) sent the allocator to its slow path. The stored JSON leaves in a string of its
    // own size.
    thread_local! {
        static SCRATCH: RefCell<(Vec<u8>, Vec<u8>)> = const { RefCell::new((Vec::new(), Vec::new())) };
    }
    SCRATCH.with(|scratch| {
        let mut scratch = scratch.borrow_mut();
        let (stored, canonical) = &mut *scratch;
        stored.clear();
        canonical.clear();
        let spans = write_event(event, free, stored);
        Copier { stored, free }.event(event, &spans, canonical)?;
        let receipt = sha256_hex(canonical);
        // The writer only copies whole `str`s and writes ASCII around them, so this check never
        // fails; `simdutf8` makes it a few times cheaper than `std`'s (2% of ingest).
        let stored = simdutf8::basic::from_utf8(stored)
            .map_err(|_| IntegrityError::Canonical("the stored JSON is not UTF-8".into()))?
            .to_owned();
        Ok((stored, receipt))
    })
}

/// Whether the stored bytes of `map` are its canonical bytes too: members already in UTF-16
/// order at every depth, and every number an integer JCS spells as serde_json does.
pub(crate) fn stored_is_canonical(map: &Map<String, Value>) -> bool {
    fn value_is(value: &Value) -> bool {
        match value {
            Value::Number(n) => is_safe_integer(n),
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
    free: FreeParts<'a>,
}

impl Copier<'_> {
    /// Copies the stored bytes of one value.
    #[inline]
    fn value(&self, out: &mut Vec<u8>, span: Span) {
        out.extend_from_slice(self.stored.get(span.start..span.end).unwrap_or_default());
    }

    /// Writes `key` (from [`key!`], with any comma or brace before it) and copies a value.
    #[inline]
    fn member(&self, out: &mut Vec<u8>, key: &[u8], span: Span) {
        out.extend_from_slice(key);
        self.value(out, span);
    }

    fn opt_member(&self, out: &mut Vec<u8>, key: &[u8], span: Option<Span>) {
        if let Some(span) = span {
            self.member(out, key, span);
        }
    }

    /// A member of an object whose members are all optional.
    fn in_members(&self, m: &mut Members<'_>, key: &[u8], span: Option<Span>) {
        if let Some(span) = span {
            self.value(m.key(key), span);
        }
    }

    /// A free-form object's value: copied when its stored bytes are canonical, else written
    /// anew. The fast path reads a tree only when it is canonical (`crate::wire::free`).
    fn free_object(
        &self,
        out: &mut Vec<u8>,
        free: Free<'_>,
        span: Option<Span>,
    ) -> Result<(), IntegrityError> {
        let canonical = match free {
            Free::Map(map) => stored_is_canonical(map),
            Free::Tree(tree) => tree.canonical,
        };
        match (span, free) {
            (Some(span), _) if canonical => {
                self.value(out, span);
                Ok(())
            }
            (_, Free::Map(map)) => write_canonical_object(map, out),
            (_, Free::Tree(_)) => Err(IntegrityError::Canonical(
                "a free-form object read without a map is not in canonical form".into(),
            )),
        }
    }

    /// The members in sorted order; `action` is always there, so every later one starts with
    /// a comma.
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
        self.member(out, key!(open "action"), *action);
        out.extend_from_slice(key!(, "actor"));
        self.actor(actor, out);
        if let Some(context) = context {
            out.extend_from_slice(key!(, "context"));
            self.context(context, out);
        }
        self.member(out, key!(, "id"), *id);
        if let Some(free) = self.free.metadata {
            out.extend_from_slice(key!(, "metadata"));
            self.free_object(out, free, *metadata)?;
        }
        self.member(out, key!(, "occurred_at"), *occurred_at);
        self.member(out, key!(, "outcome"), *outcome);
        self.member(out, key!(, "received_at"), *received_at);
        if let (Some(request), Some(spans)) = (&event.request, request) {
            out.extend_from_slice(key!(, "request"));
            self.request(request, spans, out)?;
        }
        self.member(out, key!(, "schema_version"), *schema_version);
        if let Some(source) = source {
            out.extend_from_slice(key!(, "source"));
            self.source(source, out);
        }
        if !targets.is_empty() {
            out.extend_from_slice(key!(, "targets"));
            out.push(b'[');
            for (i, target) in targets.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                self.target(target, out);
            }
            out.push(b']');
        }
        self.member(out, key!(, "tenant"), *tenant);
        out.push(b'}');
        Ok(())
    }

    fn actor(&self, spans: &ActorSpans, out: &mut Vec<u8>) {
        let ActorSpans {
            id,
            kind,
            email,
            name,
        } = spans;
        match email {
            Some(email) => {
                self.member(out, key!(open "email"), *email);
                self.member(out, key!(, "id"), *id);
            }
            None => self.member(out, key!(open "id"), *id),
        }
        self.opt_member(out, key!(, "name"), *name);
        self.member(out, key!(, "type"), *kind);
        out.push(b'}');
    }

    fn target(&self, spans: &TargetSpans, out: &mut Vec<u8>) {
        let TargetSpans { id, kind, name } = spans;
        self.member(out, key!(open "id"), *id);
        self.opt_member(out, key!(, "name"), *name);
        self.opt_member(out, key!(, "type"), *kind);
        out.push(b'}');
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
        self.in_members(&mut m, key!("ip_address"), *ip_address);
        self.in_members(&mut m, key!("location"), *location);
        self.in_members(&mut m, key!("request_id"), *request_id);
        self.in_members(&mut m, key!("session_id"), *session_id);
        self.in_members(&mut m, key!("user_agent"), *user_agent);
        m.close();
    }

    fn source(&self, spans: &SourceSpans, out: &mut Vec<u8>) {
        let SourceSpans {
            service,
            environment,
            version,
        } = spans;
        let mut m = Members::open(out);
        self.in_members(&mut m, key!("environment"), *environment);
        self.in_members(&mut m, key!("service"), *service);
        self.in_members(&mut m, key!("version"), *version);
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
            Some(latency) if latency > SAFE_INTEGER => {
                write_canonical(&Value::from(latency), m.key(key!("latency_ms")))?;
            }
            _ => self.in_members(&mut m, key!("latency_ms"), *latency_ms),
        }
        self.in_members(&mut m, key!("operation"), *operation);
        if let Some(free) = self.free.params {
            self.free_object(m.key(key!("params")), free, *params)?;
        }
        self.in_members(&mut m, key!("response_code"), *response_code);
        m.close();
        Ok(())
    }
}

#[cfg(test)]
mod tests;
