//! Turning one client-supplied JSON value into a stored [`Event`], or into the full list of what
//! is wrong with it.
//!
//! Validation walks a `serde_json::Value` rather than deserializing straight into the typed model
//! so that it can report *every* problem at once, each with the JSON pointer of the offending
//! field, instead of stopping at the first. Values are moved out of the parsed tree, never cloned.
//! (The typed fast path of `crate::wire` accepts well-formed events without the tree, applying
//! the same rules, and leaves everything else to this walker.)
//!
//! # Layout
//!
//! - this file: the limits, the context of a request, what a prepared event holds, and
//!   `finish`, the end both paths share (mask, write, receipt, stored size);
//! - `walker.rs`: [`prepare_event`], the `Value` walker that names every problem;
//! - `rules.rs`: the rules of the typed string fields (text, ids, actions, emails, addresses);
//! - `measure.rs`: the depth and stored length of free-form JSON, counted without writing it.

mod measure;
mod rules;
mod walker;

pub use measure::{compact_len, measure_object};
pub(crate) use measure::{json_string_len, number_len};
pub(crate) use rules::check_text;
pub use rules::{RESERVED_ACTION_PREFIX, RuleError, check_action};
pub use walker::prepare_event;

use crate::event::Event;
use crate::event_json::{Free, FreeParts};
use crate::redact::Redactor;
use crate::time::Timestamp;

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
    /// The event's typed fields (what the stores index and the answer names). Its free-form
    /// objects, `metadata` and `request.params`, are left out (`None`): they are in `json`,
    /// masked. Ingest never builds a map of them on its fast path.
    pub event: Event,
    pub json: String,
    /// SHA-256 (hex) of the canonical form of `json` (`crate::integrity`): computed here, once,
    /// then answered to the client, stored beside the event and copied into its export line.
    pub receipt: String,
    /// How many values were masked.
    pub redacted: usize,
}

impl PreparedEvent {
    /// The event as a client sends it (what the edge forwards; the API stores the same event
    /// from it): the stored JSON without the members only the server sets. `crate::event_json`
    /// writes `schema_version`, `id`, `tenant` and `received_at` first, in that order, then the
    /// client's members in [`Event::to_client_json`]'s order; a `"` inside a string is always
    /// escaped, so the first `,"tenant":` and `,"occurred_at":` are those members.
    pub fn client_json(&self) -> String {
        let json = &self.json;
        match (
            json.find(",\"id\":"),
            json.find(",\"tenant\":"),
            json.find(",\"occurred_at\":"),
        ) {
            (Some(id), Some(tenant), Some(rest)) if id < tenant && tenant < rest => {
                format!("{{{}{}", &json[id + 1..tenant], &json[rest..])
            }
            // Not a stored form this crate wrote: read it whole.
            _ => serde_json::from_str::<Event>(json)
                .map(|event| event.to_client_json())
                .unwrap_or_default(),
        }
    }
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

/// The walker's end: mask the event's free-form objects, taken out of the event, then write
/// its stored JSON and receipt with them ([`stored_parts`]).
pub(crate) fn finish(
    mut event: Event,
    base: &str,
    ctx: &IngestContext<'_>,
) -> Result<PreparedEvent, Vec<FieldError>> {
    let mut params = event.request.as_mut().and_then(|r| r.params.take());
    let mut metadata = event.metadata.take();
    let mut redacted = 0;
    for map in [&mut params, &mut metadata].into_iter().flatten() {
        redacted += ctx.redactor.redact_map(map);
    }
    let free = FreeParts {
        metadata: metadata.as_ref().map(Free::Map),
        params: params.as_ref().map(Free::Map),
        // The walker's strings come out of a `Value`, which does not say how they were read.
        plain_text: false,
    };
    let (json, receipt) = stored_parts(&event, free, base, ctx)?;
    Ok(PreparedEvent {
        event,
        json,
        receipt,
        redacted,
    })
}

/// The common end of both paths: the stored JSON and the receipt of `event` with its (masked)
/// free-form objects `free`, within the stored size. The event is not taken: each path builds
/// its [`PreparedEvent`] where it returns it, as an event is half a kilobyte and each move of
/// it a copy.
pub(crate) fn stored_parts(
    event: &Event,
    free: FreeParts<'_>,
    base: &str,
    ctx: &IngestContext<'_>,
) -> Result<(String, String), Vec<FieldError>> {
    let (json, receipt) = crate::integrity::stored_and_receipt_parts(event, free).map_err(|e| {
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
    Ok((json, receipt))
}

#[derive(Clone, Copy)]
pub(crate) enum Rule {
    Text,
    IdempotencyKey,
    Action,
    Email,
    IpAddress,
}

#[cfg(test)]
pub(crate) mod tests;
