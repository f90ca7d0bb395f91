//! Ingest at the edge: the same validation and masking as the API, run next to the sender
//! (compiled to WebAssembly in `functions/edge`), before anything crosses the network.
//!
//! The edge cannot authenticate keys (it has no store) and stores nothing. It answers with
//! either the validated, masked batch ready to forward to the regional `POST /v1/events`, or the
//! same per-item errors (and request-level errors) the API would give.
//!
//! Input, one JSON object (the *envelope*):
//!
//! ```json
//! {"headers": {"content-type": "application/json", "authorization": "Bearer alk_..."},
//!  "body": "<the request body, as a string>",      // or "body_base64": "..."
//!  "now_ms": 1795305600000,                          // optional: the host's clock
//!  "request_id": "edge-req-123"}                     // optional: the host's request id
//! ```
//!
//! Output: `{"status", "forward"?, "items", "error"?}`; see `docs/edge.md`.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::ingest::{PreparedItem, check_content_type, prepare_request};
use crate::redact::Redactor;
use crate::time::Timestamp;
use crate::validate::{FieldError, IngestContext, Limits};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeRequest {
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub body_base64: Option<String>,
    #[serde(default)]
    pub now_ms: Option<i64>,
    #[serde(default)]
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EdgeError {
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EdgeItem {
    pub index: usize,
    pub id: Option<String>,
    /// `valid` (in `forward`) or `rejected`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "is_zero")]
    pub redacted: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Serialize)]
pub struct EdgeResponse {
    /// 200 all valid, 207 some valid, 422 none valid; 400/401/413/415 as the API for a
    /// request-level error.
    pub status: u16,
    /// `{"events": [...]}` to send to the regional API as is; absent when nothing is valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forward: Option<Box<serde_json::value::RawValue>>,
    pub items: Vec<EdgeItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<EdgeError>,
}

impl EdgeResponse {
    fn failure(
        status: u16,
        code: &'static str,
        message: impl Into<String>,
        details: Option<Value>,
    ) -> Self {
        EdgeResponse {
            status,
            forward: None,
            items: Vec::new(),
            error: Some(EdgeError {
                code,
                message: message.into(),
                details,
            }),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Largest envelope accepted: the body may double in size when escaped as a JSON string.
pub fn max_envelope_bytes(limits: &Limits) -> usize {
    limits
        .max_request_bytes
        .saturating_mul(2)
        .saturating_add(64 * 1024)
}

/// 128 bits for the `n`th generated id of a request, derived from the host's request id, so a
/// replayed envelope yields the same ids and distinct requests distinct ones.
fn derived_randomness(request_id: &str, n: u64) -> u128 {
    let digest = Sha256::new()
        .chain_update(request_id.as_bytes())
        .chain_update(n.to_be_bytes())
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    u128::from_be_bytes(bytes)
}

/// Handles one envelope. `clock_ms` is used when the envelope has no `now_ms`. Ids the client
/// left out are ULIDs at the request's time; their random part comes from the envelope's
/// `request_id` when it has one, else from `random`. Never panics on any input.
pub fn handle(
    envelope: &[u8],
    limits: &Limits,
    redactor: &Redactor,
    clock_ms: i64,
    random: &mut dyn FnMut() -> u128,
) -> EdgeResponse {
    if envelope.len() > max_envelope_bytes(limits) {
        return EdgeResponse::failure(
            413,
            "body_too_large",
            // The size itself is not reported: a host may stop reading at the cap.
            format!(
                "the request is larger than the {} bytes the edge accepts",
                max_envelope_bytes(limits)
            ),
            None,
        );
    }
    let request: EdgeRequest = match serde_json::from_slice(envelope) {
        Ok(r) => r,
        Err(e) => {
            return EdgeResponse::failure(
                400,
                "invalid_edge_envelope",
                format!("the edge envelope is not valid: {e}"),
                None,
            );
        }
    };
    let header = |name: &str| {
        request
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    // The edge cannot check a key, only that one is there: the regional API authenticates.
    let has_bearer = header("authorization")
        .and_then(|v| v.trim().split_once(' '))
        .is_some_and(|(scheme, key)| {
            scheme.eq_ignore_ascii_case("bearer") && !key.trim().is_empty()
        });
    if !has_bearer {
        return EdgeResponse::failure(
            401,
            "missing_credentials",
            "send an API key as `Authorization: Bearer <key>`",
            None,
        );
    }
    if let Err(message) = check_content_type(header("content-type")) {
        return EdgeResponse::failure(415, "unsupported_media_type", message, None);
    }
    let body: Vec<u8> = match (&request.body, &request.body_base64) {
        (Some(text), None) => text.as_bytes().to_vec(),
        (None, Some(b64)) => match base64::engine::general_purpose::STANDARD.decode(b64) {
            Ok(bytes) => bytes,
            Err(e) => {
                return EdgeResponse::failure(
                    400,
                    "invalid_edge_envelope",
                    format!("body_base64 is not base64: {e}"),
                    None,
                );
            }
        },
        (None, None) => Vec::new(),
        (Some(_), Some(_)) => {
            return EdgeResponse::failure(
                400,
                "invalid_edge_envelope",
                "send `body` or `body_base64`, not both",
                None,
            );
        }
    };
    let now = Timestamp(request.now_ms.unwrap_or(clock_ms));
    let ctx = IngestContext {
        tenant: "edge",
        received_at: now,
        limits,
        redactor,
    };
    let request_id = request.request_id.as_deref();
    let mut generated = 0u64;
    let mut fresh_id = || {
        generated += 1;
        let bits = match request_id {
            Some(rid) => derived_randomness(rid, generated),
            None => random(),
        };
        let millis = u64::try_from(now.0).unwrap_or(0);
        ulid::Ulid::from_parts(millis, bits).to_string()
    };
    let prepared = match prepare_request(&body, &ctx, &mut fresh_id) {
        Ok(p) => p,
        Err(e) => return EdgeResponse::failure(e.status(), e.code(), e.to_string(), e.details()),
    };

    let mut items = Vec::with_capacity(prepared.len());
    let mut forward = String::from("{\"events\":[");
    let mut valid = 0;
    for (index, item) in prepared.into_iter().enumerate() {
        match item {
            PreparedItem::Valid(p) => {
                if valid > 0 {
                    forward.push(',');
                }
                forward.push_str(&p.event.to_client_json());
                valid += 1;
                items.push(EdgeItem {
                    index,
                    id: Some(p.event.id),
                    status: "valid",
                    redacted: p.redacted,
                    errors: Vec::new(),
                });
            }
            PreparedItem::Rejected { id, errors } => items.push(EdgeItem {
                index,
                id: id.filter(|i| i.chars().count() <= crate::validate::MAX_ID_CHARS),
                status: "rejected",
                redacted: 0,
                errors,
            }),
        }
    }
    forward.push_str("]}");
    let status = match (valid, items.len() - valid) {
        (0, _) => 422,
        (_, 0) => 200,
        _ => 207,
    };
    EdgeResponse {
        status,
        forward: if valid > 0 {
            serde_json::value::RawValue::from_string(forward).ok()
        } else {
            None
        },
        items,
        error: None,
    }
}
