//! The body of every error answer, `{"error": {"code", "message", "request_id", "details"?}}`,
//! and the rule for request ids. Here rather than in the HTTP crate because the edge component
//! answers bad input itself, and its answers must be the API's, byte for byte.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Every error answer: `{"error": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// Stable, machine-readable (docs/api.md says when each is given).
    #[cfg_attr(feature = "openapi", schema(schema_with = error_codes))]
    pub code: String,
    /// For people; may change.
    pub message: String,
    /// The request's id, as in the `x-request-id` header.
    pub request_id: String,
    /// What exactly was wrong, where the code says there is more: JSON pointers and reasons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

impl ErrorBody {
    pub fn new(
        code: &str,
        message: impl Into<String>,
        request_id: &str,
        details: Option<Value>,
    ) -> Self {
        ErrorBody {
            error: ErrorDetail {
                code: code.to_string(),
                message: message.into(),
                request_id: request_id.to_string(),
                details,
            },
        }
    }

    pub fn to_json(&self) -> String {
        // A struct of strings and a JSON value always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Every code an API error answer can carry. A new code must be added here, or the answers that
/// carry it no longer conform to the OpenAPI document (which Schemathesis checks).
pub const ERROR_CODES: &[&str] = &[
    "missing_credentials",
    "invalid_credentials",
    "insufficient_scope",
    "unsupported_media_type",
    "body_too_large",
    "unreadable_body",
    "empty_body",
    "malformed_json",
    "invalid_envelope",
    "empty_batch",
    "too_many_events",
    "invalid_query",
    "invalid_cursor",
    "invalid_id",
    "event_not_found",
    "invalid_destination",
    "destination_not_found",
    "not_a_stream",
    "invalid_replay",
    "invalid_key_request",
    "key_not_found",
    "invalid_viewer_session",
    "not_found",
    "method_not_allowed",
    "store_unavailable",
    "audit_unavailable",
];

#[cfg(feature = "openapi")]
fn error_codes() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(ERROR_CODES.iter().copied()))
        .build()
}

/// Whether a caller's `x-request-id` is kept: short and plain, so it can be correlated across
/// hops (the API Gateway request id, the edge's id), and safe in a log line. Otherwise the
/// service makes its own.
pub fn is_plain_request_id(value: &str) -> bool {
    (1..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
