//! Error answers: a stable machine `code`, a human `message`, optional `details`, and the request
//! id, always as JSON.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::request_log::current_request_id;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

/// Every error answer: `{"error": {...}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable (docs/api.md says when each is given).
    #[schema(schema_with = error_codes)]
    pub code: String,
    /// For people; may change.
    pub message: String,
    /// The request's id, as in the `x-request-id` header.
    pub request_id: String,
    /// What exactly was wrong, where the code says there is more: JSON pointers and reasons.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

/// Every code an error answer can carry. A new code must be added here, or the answers that
/// carry it no longer conform to the document (which Schemathesis checks).
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
    "invalid_key_request",
    "key_not_found",
    "invalid_viewer_session",
    "not_found",
    "method_not_allowed",
    "store_unavailable",
    "audit_unavailable",
];

fn error_codes() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(ERROR_CODES.iter().copied()))
        .build()
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        debug_assert!(
            ERROR_CODES.contains(&code),
            "error code `{code}` is not in ERROR_CODES (the OpenAPI document lists them)"
        );
        ApiError {
            status,
            code,
            message: message.into(),
            details: None,
        }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message,
                request_id: current_request_id(),
                details: self.details,
            },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// The refusals of a small JSON body (admin routes), for the OpenAPI document.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // a description only: the answers are `ApiError`s
pub enum JsonBodyRefusals {
    /// `malformed_json` (not JSON, not the documented object, or an unknown field), or
    /// `unreadable_body`.
    #[response(status = 400)]
    Malformed(ErrorBody),
    /// `body_too_large`: over 16 KiB.
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// `unsupported_media_type`: send `application/json`.
    #[response(status = 415)]
    MediaType(ErrorBody),
}

/// `503 store_unavailable` (or `audit_unavailable` for a read or change that could not be
/// recorded in the tenant's audit log), for the OpenAPI document.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // a description only: the answers are `ApiError`s
pub enum StoreRefusal {
    /// `store_unavailable`: the store could not be read or written; `audit_unavailable`: the
    /// request could not be recorded in the tenant's own audit log, so it was not answered.
    /// Retrying is safe.
    #[response(status = 503)]
    Unavailable(ErrorBody),
}
