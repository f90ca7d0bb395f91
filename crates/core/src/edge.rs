//! Ingest at the edge: the same checks, validation and masking as the API, run next to the
//! sender (in the `wasi:http` component of `functions/edge`) before anything crosses the network.
//!
//! The edge cannot authenticate keys (it has no store) and stores nothing. For
//! `POST /v1/events` it either answers itself, with the API's own answer for the same request
//! byte for byte (every request-level error, and the `422` of a batch with nothing valid), or
//! forwards the valid, masked items to the origin and, once the origin has answered, gives the
//! answer the API would have given for the whole request ([`relay`]). The component does the
//! I/O (reading the body, the outgoing request); everything it decides is here, so the tests
//! can run it natively too.

use sha2::{Digest, Sha256};

use crate::api_error::{ErrorBody, is_plain_request_id};
use crate::ingest::{
    PreparedItem, RequestError, UNREADABLE_BODY, body_exceeds, check_content_type,
    check_declared_length, prepare_request,
};
use crate::ingest_answer::{IngestSummary, ItemResult};
use crate::keys::{INVALID_CREDENTIALS, MISSING_CREDENTIALS, Presented, presented_key};
use crate::redact::Redactor;
use crate::time::Timestamp;
use crate::validate::{IngestContext, Limits};

/// The one route the edge serves.
pub const INGEST_PATH: &str = "/v1/events";

/// An answer the edge gives itself: the status and the JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    /// The request's id, also sent back as `x-request-id`.
    pub request_id: String,
}

impl Answer {
    pub fn error(status: u16, code: &str, message: impl Into<String>, request_id: &str) -> Self {
        Answer::error_with(status, code, message, request_id, None)
    }

    fn error_with(
        status: u16,
        code: &str,
        message: impl Into<String>,
        request_id: &str,
        details: Option<serde_json::Value>,
    ) -> Self {
        Answer {
            status,
            body: ErrorBody::new(code, message, request_id, details).to_json(),
            request_id: request_id.to_string(),
        }
    }

    fn request(e: RequestError, request_id: &str) -> Self {
        Answer::error_with(e.status(), e.code(), e.to_string(), request_id, e.details())
    }

    /// `401`: the API also says `WWW-Authenticate: Bearer`.
    pub fn is_unauthorized(&self) -> bool {
        self.status == 401
    }
}

/// Where a request goes, by method and path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Ingest,
    /// `/v1/events` with another method: `405`, `Allow: POST`.
    MethodNotAllowed,
    /// Anything else: `404`. Reads and admin routes go to the regional API (docs/edge.md).
    NotFound,
}

pub fn route(method: &str, path: &str) -> Route {
    match (method, path) {
        ("POST", INGEST_PATH) => Route::Ingest,
        (_, INGEST_PATH) => Route::MethodNotAllowed,
        _ => Route::NotFound,
    }
}

/// The answer for a request that is not `POST /v1/events`.
pub fn refuse_route(route: Route, request_id: &str) -> Option<Answer> {
    match route {
        Route::Ingest => None,
        Route::MethodNotAllowed => Some(Answer::error(
            405,
            "method_not_allowed",
            "the edge accepts only POST on /v1/events",
            request_id,
        )),
        Route::NotFound => Some(Answer::error(
            404,
            "not_found",
            "the edge serves only POST /v1/events; send other requests to the regional API",
            request_id,
        )),
    }
}

/// The request's id: the caller's when it is plain (as the API keeps it), else a new ULID. The
/// edge sends it on to the origin, so both answer with the same id.
pub fn request_id(header: Option<&str>, now_ms: i64, random: u128) -> String {
    match header.filter(|v| is_plain_request_id(v)) {
        Some(id) => id.to_string(),
        None => ulid::Ulid::from_parts(u64::try_from(now_ms).unwrap_or(0), random).to_string(),
    }
}

/// The headers of an ingest request the edge reads.
#[derive(Debug, Clone, Copy)]
pub struct Headers<'a> {
    pub authorization: Option<&'a [u8]>,
    pub content_type: Option<&'a str>,
    pub content_length: Option<&'a str>,
}

/// The checks made before the body is read, in the API's order: the key's presence and shape
/// (the origin checks the key itself), the media type, the declared length.
pub fn check_headers(headers: Headers<'_>, limits: &Limits, request_id: &str) -> Option<Answer> {
    match presented_key(headers.authorization) {
        Presented::Key { .. } => {}
        Presented::Missing => {
            return Some(Answer::error(
                401,
                "missing_credentials",
                MISSING_CREDENTIALS,
                request_id,
            ));
        }
        Presented::Malformed => {
            return Some(Answer::error(
                401,
                "invalid_credentials",
                INVALID_CREDENTIALS,
                request_id,
            ));
        }
    }
    if let Err(message) = check_content_type(headers.content_type) {
        return Some(Answer::error(
            415,
            "unsupported_media_type",
            message.to_string(),
            request_id,
        ));
    }
    check_declared_length(headers.content_length, limits.max_request_bytes)
        .err()
        .map(|e| Answer::request(e, request_id))
}

/// `413` for a body found longer than the limit while reading it.
pub fn body_too_large(limits: &Limits, request_id: &str) -> Answer {
    Answer::error(
        413,
        "body_too_large",
        body_exceeds(limits.max_request_bytes),
        request_id,
    )
}

/// `400` for a body whose reading failed.
pub fn unreadable_body(request_id: &str) -> Answer {
    Answer::error(400, "unreadable_body", UNREADABLE_BODY, request_id)
}

/// What to do with a read body.
#[derive(Debug)]
pub enum Decision {
    /// Answer the caller now; nothing goes to the origin.
    Answer(Answer),
    /// Send `body` (`{"events": [...]}`, the valid items, masked) to the origin's
    /// `POST /v1/events`, then give the origin's answer to [`relay`] with `pending`.
    Forward { body: String, pending: Pending },
}

/// The edge's part of the answer, kept while the origin answers for the forwarded items.
#[derive(Debug, Clone)]
pub struct Pending {
    summary: IngestSummary,
    single: bool,
}

impl Pending {
    /// The edge's items: the rejected ones, and the valid ones with their ids and masked counts.
    pub fn items(&self) -> &[ItemResult] {
        &self.summary.items
    }
}

/// Validates and masks a body. Ids the client left out are ULIDs whose random part is derived
/// from the request id, and whose time is the request id's when it is a ULID (the edge makes
/// one when the client sends none), else `now_ms`. So a request sent again with the same ULID
/// `x-request-id` gets the same ids, and the origin stores each event once
/// ([`retry_advice`]). Never panics on any input.
pub fn decide(
    body: &[u8],
    limits: &Limits,
    redactor: &Redactor,
    now_ms: i64,
    request_id: &str,
) -> Decision {
    let now = Timestamp(now_ms);
    let ctx = IngestContext {
        tenant: "edge",
        received_at: now,
        limits,
        redactor,
    };
    // A ULID request id fixes the time part too, so a retry with it gets the very same ids.
    let millis = ulid::Ulid::from_string(request_id)
        .map(|u| u.timestamp_ms())
        .unwrap_or_else(|_| u64::try_from(now_ms).unwrap_or(0));
    let mut generated = 0u64;
    let mut fresh_id = || {
        generated += 1;
        ulid::Ulid::from_parts(millis, derived_randomness(request_id, generated)).to_string()
    };
    let prepared = match prepare_request(body, &ctx, &mut fresh_id) {
        Ok(p) => p,
        Err(e) => return Decision::Answer(Answer::request(e, request_id)),
    };
    // A batch of one and a bare event differ only in their pointers.
    let single = prepared.len() == 1 && !starts_as_batch(body);
    let mut summary = IngestSummary::new(request_id.to_string(), prepared.len());
    let mut forward = String::from("{\"events\":[");
    let mut valid = 0usize;
    for (index, item) in prepared.into_iter().enumerate() {
        match item {
            PreparedItem::Valid(p) => {
                if valid > 0 {
                    forward.push(',');
                }
                forward.push_str(&p.client_json());
                valid += 1;
                summary.push(ItemResult::accepted(
                    index,
                    p.event.id.into(),
                    None,
                    p.redacted,
                ));
            }
            PreparedItem::Rejected { id, errors } => {
                summary.push(ItemResult::rejected(index, id, errors));
            }
        }
    }
    forward.push_str("]}");
    if valid == 0 {
        return Decision::Answer(Answer {
            status: summary.status(),
            body: serde_json::to_string(&summary).unwrap_or_default(),
            request_id: request_id.to_string(),
        });
    }
    Decision::Forward {
        body: forward,
        pending: Pending { summary, single },
    }
}

/// The answer to the caller from the origin's: the whole request's items when the origin
/// answered for the forwarded ones (`201`, `207`, `422`, or `503` with items), else `None`, and
/// the caller relays the origin's answer unchanged (a refused key, a store that is down).
pub fn relay(pending: Pending, origin_status: u16, origin_body: &[u8]) -> Option<Answer> {
    if !matches!(origin_status, 201 | 207 | 422 | 503) {
        return None;
    }
    let origin: IngestSummary = serde_json::from_slice(origin_body).ok()?;
    let merged = pending.summary.merge_forwarded(origin, pending.single)?;
    Some(Answer {
        status: merged.status(),
        body: serde_json::to_string(&merged).ok()?,
        request_id: merged.request_id.clone(),
    })
}

/// What a caller should do when the origin's answer is lost (`502`, `504`): whether anything
/// was stored is unknown.
pub fn retry_advice(request_id: &str) -> String {
    if ulid::Ulid::from_string(request_id).is_ok() {
        format!(
            "send the request again with `x-request-id: {request_id}`: its events get the same \
             ids, and each is stored once"
        )
    } else {
        "events sent with an `id` are stored once however often they are sent; events without \
         one get new ids when sent again, unless `x-request-id` is a ULID and is sent again too"
            .to_string()
    }
}

/// Whether a body (already known to be JSON) is `{"events": ...}` rather than one bare event:
/// pointers in the answer depend on it. `prepare_request` accepted it, so this only looks for
/// the `events` member at the top level.
fn starts_as_batch(body: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Probe {
        events: Option<serde::de::IgnoredAny>,
    }
    serde_json::from_slice::<Probe>(body).is_ok_and(|p| p.events.is_some())
}

/// 128 bits for the `n`th generated id of a request, derived from its request id, so a replayed
/// request yields the same ids and distinct requests distinct ones.
fn derived_randomness(request_id: &str, n: u64) -> u128 {
    let digest = Sha256::new()
        .chain_update(request_id.as_bytes())
        .chain_update(n.to_be_bytes())
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    u128::from_be_bytes(bytes)
}

#[cfg(test)]
mod tests;
