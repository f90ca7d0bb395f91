//! The auditlog HTTP API, one router for every host: `auditlog serve` runs it on a TCP socket,
//! the ingest Lambda runs the same router through `lambda_http`. Routes are written once, here.
//!
//! # Layout
//!
//! - [`router`] builds the axum router from an [`AppState`] (a store and the settings).
//! - `handlers`: one function per route; they parse with `auditlog-core`, call the store
//!   traits, and shape the JSON answers.
//! - [`destinations`]: the admin routes for a tenant's export destinations and their status.
//! - `auth`: bearer keys → tenant and scopes.
//! - [`error::ApiError`]: every error answer (`{"error": {"code", "message", ...}}`).
//! - `request_log`: request ids and one structured log line per request. It never logs headers,
//!   bodies or query strings, so keys and masked values cannot reach the logs.

mod auth;
pub mod destinations;
pub mod error;
mod handlers;
mod request_log;

use std::sync::Arc;

use auditlog_core::Timestamp;
use auditlog_core::cursor::CursorKey;
use auditlog_core::redact::Redactor;
use auditlog_core::store::ServiceStore;
use auditlog_core::validate::Limits;
use axum::Router;
use axum::routing::get;

pub use request_log::RequestId;

/// Settings the API needs; built once at start-up.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub limits: Limits,
    pub redactor: Redactor,
    /// How long an event is kept after it is received.
    pub retention_ms: i64,
    pub cursor_key: CursorKey,
    /// Largest `GET /v1/events` answer: a page ends early (with a cursor) rather than exceed it.
    /// Lambda refuses responses over 6 MB, so the functions keep it below that.
    pub max_response_bytes: usize,
}

/// Where "now" comes from; tests substitute a controllable clock.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(|| Timestamp(chrono::Utc::now().timestamp_millis()))
}

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn ServiceStore>,
    pub config: Arc<ApiConfig>,
    pub clock: Clock,
}

/// The whole API.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/v1/events",
            get(handlers::list_events).post(handlers::post_events),
        )
        .route("/v1/events/{id}", get(handlers::get_event))
        .route(
            "/v1/destinations",
            get(destinations::list_destinations).post(destinations::add_destination),
        )
        .route(
            "/v1/destinations/{id}",
            axum::routing::delete(destinations::remove_destination),
        )
        .route(
            "/v1/destinations/{id}/status",
            get(destinations::destination_status),
        )
        .route("/v1/integrity/keys", get(handlers::integrity_keys))
        .route("/v1/health", get(handlers::health))
        .fallback(handlers::not_found)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .with_state(state)
        .layer(axum::middleware::from_fn(request_log::request_log))
}
