//! Parsing of a `POST /v1/events` body: one event, or `{"events": [...]}`.
//!
//! Request-level problems (not JSON, too big, wrong envelope) reject the whole request; item-level
//! problems reject only that item, so the rest of a batch can still be stored.

use serde_json::Value;

use crate::strict::ObjectOnly;
use crate::validate::{FieldError, IngestContext, Limits, PreparedEvent, prepare_event};

/// Whether the body was one bare event or a batch envelope; pointers differ between the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Single,
    Batch,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("request body is {size} bytes; the limit is {max} bytes")]
    BodyTooLarge { size: usize, max: usize },
    #[error("request body is empty; send one event object or {{\"events\": [...]}}")]
    EmptyBody,
    #[error("request body is not valid JSON: {message} (line {line}, column {column})")]
    MalformedJson {
        message: String,
        line: usize,
        column: usize,
    },
    #[error("{}: {}", .0.pointer, .0.message)]
    Envelope(FieldError),
    #[error("batch holds {count} events; at most {max} are allowed per request")]
    TooManyEvents { count: usize, max: usize },
    #[error("batch holds no events")]
    EmptyBatch,
}

impl RequestError {
    /// The HTTP status the API answers with.
    pub fn status(&self) -> u16 {
        match self {
            RequestError::BodyTooLarge { .. } | RequestError::TooManyEvents { .. } => 413,
            _ => 400,
        }
    }

    /// Machine-readable details for the error body, where there are any.
    pub fn details(&self) -> Option<Value> {
        match self {
            RequestError::MalformedJson { line, column, .. } => {
                Some(serde_json::json!({"line": line, "column": column}))
            }
            RequestError::Envelope(e) => Some(serde_json::json!([e])),
            _ => None,
        }
    }

    /// Stable machine-readable code for the API's error body.
    pub fn code(&self) -> &'static str {
        match self {
            RequestError::BodyTooLarge { .. } => "body_too_large",
            RequestError::EmptyBody => "empty_body",
            RequestError::MalformedJson { .. } => "malformed_json",
            RequestError::Envelope(_) => "invalid_envelope",
            RequestError::TooManyEvents { .. } => "too_many_events",
            RequestError::EmptyBatch => "empty_batch",
        }
    }
}

/// The message of `413 body_too_large` when the body turned out longer than `max` while being
/// read (a declared `Content-Length` over it gets [`RequestError::BodyTooLarge`]).
pub fn body_exceeds(max: usize) -> String {
    format!("request body exceeds {max} bytes")
}

/// The message of `400 unreadable_body`: the connection failed while the body was read.
pub const UNREADABLE_BODY: &str = "the request body could not be read";

/// A `Content-Length` over `max`, refused before any of the body is read.
pub fn check_declared_length(value: Option<&str>, max: usize) -> Result<(), RequestError> {
    match value.and_then(|v| v.parse::<usize>().ok()) {
        Some(size) if size > max => Err(RequestError::BodyTooLarge { size, max }),
        _ => Ok(()),
    }
}

/// A request body that is not declared as JSON; the text says what to send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContentTypeError {
    #[error("send `Content-Type: application/json`")]
    Missing,
    /// The type sent, cut to 64 characters.
    #[error("send `Content-Type: application/json`, not `{0}`")]
    Other(String),
}

/// Checks a `Content-Type` header value: `application/json`, with any parameters.
pub fn check_content_type(value: Option<&str>) -> Result<(), ContentTypeError> {
    let value = value.unwrap_or("");
    let media_type = value.split(';').next().unwrap_or("").trim();
    if media_type.eq_ignore_ascii_case("application/json") {
        return Ok(());
    }
    if value.is_empty() {
        Err(ContentTypeError::Missing)
    } else {
        Err(ContentTypeError::Other(value.chars().take(64).collect()))
    }
}

/// Splits a body into its items. Does not look inside the items.
pub fn parse_body(body: &[u8], limits: &Limits) -> Result<(Shape, Vec<Value>), RequestError> {
    if body.len() > limits.max_request_bytes {
        return Err(RequestError::BodyTooLarge {
            size: body.len(),
            max: limits.max_request_bytes,
        });
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(RequestError::EmptyBody);
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| RequestError::MalformedJson {
        message: describe_json_error(&e),
        line: e.line(),
        column: e.column(),
    })?;
    match value {
        Value::Object(mut map) if map.contains_key("events") => {
            if let Some(extra) = map.keys().find(|k| k.as_str() != "events") {
                return Err(RequestError::Envelope(FieldError {
                    pointer: format!("/{}", crate::validate::escape_pointer_token(extra)),
                    message:
                        "a batch envelope holds only `events`; put every field inside each event"
                            .into(),
                }));
            }
            match map.remove("events") {
                Some(Value::Array(items)) => {
                    if items.is_empty() {
                        return Err(RequestError::EmptyBatch);
                    }
                    if items.len() > limits.max_events_per_request {
                        return Err(RequestError::TooManyEvents {
                            count: items.len(),
                            max: limits.max_events_per_request,
                        });
                    }
                    Ok((Shape::Batch, items))
                }
                _ => Err(RequestError::Envelope(FieldError {
                    pointer: "/events".into(),
                    message: "must be an array of event objects".into(),
                })),
            }
        }
        Value::Object(_) => Ok((Shape::Single, vec![value])),
        other => Err(RequestError::Envelope(FieldError {
            pointer: String::new(),
            message: format!(
                "the body must be an event object or {{\"events\": [...]}}, not {}",
                match other {
                    Value::Array(_) => "an array",
                    Value::String(_) => "a string",
                    Value::Number(_) => "a number",
                    Value::Bool(_) => "a boolean",
                    _ => "null",
                }
            ),
        })),
    }
}

/// serde_json's message without its trailing " at line X column Y" (we report those as fields).
fn describe_json_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(cut) => text[..cut].to_string(),
        None => text,
    }
}

/// One item of a request after validation.
// Nearly every item is `Valid`; boxing it would add an allocation per event for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum PreparedItem {
    Valid(PreparedEvent),
    Rejected {
        /// The client's `id`, when it sent a string one, so it can match the answer to its item.
        id: Option<String>,
        errors: Vec<FieldError>,
    },
}

/// Validates and masks every item of a parsed body (the `Value` walker for each).
pub fn prepare_items(
    shape: Shape,
    items: Vec<Value>,
    ctx: &IngestContext<'_>,
    fresh_id: &mut dyn FnMut() -> String,
) -> Vec<PreparedItem> {
    items
        .into_iter()
        .enumerate()
        .map(|(index, item)| prepare_one(shape, index, item, ctx, fresh_id))
        .collect()
}

/// The pointer of item `index` in the body.
pub(crate) fn item_base(shape: Shape, index: usize) -> String {
    match shape {
        Shape::Single => String::new(),
        Shape::Batch => format!("/events/{index}"),
    }
}

fn prepare_one(
    shape: Shape,
    index: usize,
    item: Value,
    ctx: &IngestContext<'_>,
    fresh_id: &mut dyn FnMut() -> String,
) -> PreparedItem {
    let base = item_base(shape, index);
    let client_id = item.get("id").and_then(Value::as_str).map(str::to_string);
    match prepare_event(item, &base, ctx, fresh_id) {
        Ok(prepared) => PreparedItem::Valid(prepared),
        Err(errors) => PreparedItem::Rejected {
            id: client_id,
            errors,
        },
    }
}

/// One item's raw JSON: the typed fast path, or the walker when the fast path gives up.
fn prepare_raw(
    shape: Shape,
    index: usize,
    raw: &str,
    ctx: &IngestContext<'_>,
    fresh_id: &mut dyn FnMut() -> String,
) -> PreparedItem {
    if let Some(prepared) = crate::wire::prepare_fast(raw, "", ctx, fresh_id) {
        return PreparedItem::Valid(prepared);
    }
    match serde_json::from_str::<Value>(raw) {
        Ok(item) => prepare_one(shape, index, item, ctx, fresh_id),
        // Unreachable: the envelope parse already checked this text is JSON.
        Err(e) => PreparedItem::Rejected {
            id: None,
            errors: vec![FieldError {
                pointer: item_base(shape, index),
                message: format!("not valid JSON: {e}"),
            }],
        },
    }
}

/// The whole of ingest's CPU work for one request body: split it into items, then validate and
/// mask each. Equivalent to [`parse_body`] followed by [`prepare_items`] (tests check this), but
/// well-formed items skip building a JSON tree.
pub fn prepare_request(
    body: &[u8],
    ctx: &IngestContext<'_>,
    fresh_id: &mut dyn FnMut() -> String,
) -> Result<Vec<PreparedItem>, RequestError> {
    let limits = ctx.limits;
    if body.len() > limits.max_request_bytes {
        return Err(RequestError::BodyTooLarge {
            size: body.len(),
            max: limits.max_request_bytes,
        });
    }
    // `simdutf8`: the same check as `std::str::from_utf8`, several times faster on a whole body.
    if let Ok(text) = simdutf8::basic::from_utf8(body) {
        // One typed pass over a batch, preparing each event as it is read: the common case.
        let mut streamed = crate::wire::batch::prepare_batch(text, ctx, fresh_id);
        if streamed.complete && streamed.gave_up.is_empty() {
            return Ok(streamed.items);
        }
        // Items the typed pass gave up on, and any it did not reach, are read again from the
        // raw envelope, each by the typed path and then by the walker that names what is wrong.
        if let Ok(ObjectOnly(envelope)) =
            serde_json::from_str::<ObjectOnly<crate::wire::Envelope<'_>>>(text)
        {
            if envelope.events.is_empty() {
                return Err(RequestError::EmptyBatch);
            }
            if envelope.events.len() > limits.max_events_per_request {
                return Err(RequestError::TooManyEvents {
                    count: envelope.events.len(),
                    max: limits.max_events_per_request,
                });
            }
            let items = &mut streamed.items;
            for index in streamed.gave_up {
                if let (Some(raw), Some(slot)) = (envelope.events.get(index), items.get_mut(index))
                {
                    *slot = prepare_raw(Shape::Batch, index, raw.get(), ctx, fresh_id);
                }
            }
            for (index, raw) in envelope.events.iter().enumerate().skip(items.len()) {
                items.push(prepare_raw(Shape::Batch, index, raw.get(), ctx, fresh_id));
            }
            // The typed pass may have read past what the raw envelope holds only if the two
            // parsers disagreed; the raw envelope is the one the walker would use.
            items.truncate(envelope.events.len());
            return Ok(streamed.items);
        }
        if let Some(prepared) = crate::wire::prepare_fast(text, "", ctx, fresh_id) {
            return Ok(vec![PreparedItem::Valid(prepared)]);
        }
    }
    let (shape, items) = parse_body(body, limits)?;
    Ok(prepare_items(shape, items, ctx, fresh_id))
}
