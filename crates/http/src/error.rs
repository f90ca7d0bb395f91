//! Error answers: a stable machine `code`, a human `message`, optional `details`, and the request
//! id, always as JSON.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::request_log::current_request_id;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

pub use auditlog_core::api_error::{ERROR_CODES, ErrorBody, ErrorDetail};

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
        let body = ErrorBody::new(self.code, self.message, &current_request_id(), self.details);
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
