//! The auditlog HTTP API, one router for every host: `auditlog serve` runs it on a TCP socket,
//! the ingest Lambda runs the same router through `lambda_http`. Routes are written once, here.
//!
//! # Layout
//!
//! - [`router`] builds the axum router from an [`AppState`] (a store and the settings).
//! - `handlers`: one function per route; they parse with `auditlog-core`, call the store
//!   traits, and shape the JSON answers.
//! - [`destinations`]: the admin routes for a tenant's export destinations and their status.
//! - [`streams`]: adding a stream destination, its status, pause, resume and replay.
//! - [`keys`]: the admin routes for a tenant's API keys.
//! - `auth`: the `ApiKey<Scope>` extractor: bearer key → tenant, checked once per request.
//! - `event_pages`: reading a page of events, for the API and the console alike.
//! - `ingest_answer`: storing a request's valid events and the per-item answer.
//! - [`console`]: the web console (viewer sessions, server-rendered pages).
//! - `viewer_sessions`: `POST /v1/viewer-sessions`, the console's one-time links.
//! - [`openapi`]: the OpenAPI 3.1 document, generated from the routes' descriptions.
//! - [`error::ApiError`]: every error answer (`{"error": {"code", "message", ...}}`).
//! - [`self_audit`]: recording reads, changes and refusals in the tenant's own stream.
//! - `request_log`: request ids and one structured log line per request. It never logs headers,
//!   bodies or query strings, so keys and masked values cannot reach the logs.

mod auth;
pub mod console;
pub mod destinations;
pub mod error;
mod event_pages;
mod handlers;
mod ingest_answer;
pub mod keys;
pub mod openapi;
mod request_log;
pub mod self_audit;
pub mod streams;
mod viewer_sessions;

use std::sync::Arc;

use auditlog_core::Timestamp;
use auditlog_core::cursor::CursorKey;
use auditlog_core::redact::Redactor;
use auditlog_core::store::ServiceStore;
use auditlog_core::validate::Limits;
use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use request_log::RequestId;
pub use viewer_sessions::link_path as viewer_link_path;

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
    /// The console's CSP `frame-ancestors` sources (checked by the settings): `'none'`, or the
    /// vendor's origins that may embed it.
    pub console_frame_ancestors: String,
    /// Where streams may deliver beyond public `https` (the operator's setting); a stream's
    /// URL is checked against it when the stream is added.
    pub stream_policy: auditlog_core::stream::address::AddressPolicy,
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

/// Every route, each with its OpenAPI description (`routes!` takes it from the handler's
/// `#[utoipa::path]`).
pub(crate) fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base())
        .routes(routes!(handlers::list_events, handlers::post_events))
        .routes(routes!(handlers::get_event))
        .routes(routes!(
            destinations::list_destinations,
            destinations::add_destination
        ))
        .routes(routes!(destinations::remove_destination))
        .routes(routes!(destinations::destination_status))
        .routes(routes!(streams::add_stream))
        .routes(routes!(streams::stream_status))
        .routes(routes!(streams::pause_destination))
        .routes(routes!(streams::resume_destination))
        .routes(routes!(streams::replay_stream))
        .routes(routes!(keys::list_keys, keys::create_key))
        .routes(routes!(keys::revoke_key))
        .routes(routes!(viewer_sessions::create_viewer_session))
        .routes(routes!(handlers::integrity_keys))
        .routes(routes!(handlers::health))
        .routes(routes!(openapi_json))
}

/// This API's OpenAPI 3.1 document.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "service", security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document of this API.",
        content_type = "application/json")))]
async fn openapi_json() -> axum::response::Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        openapi::DOCUMENT.as_str(),
    )
        .into_response()
}

/// The whole API, and the console beside it.
pub fn router(state: AppState) -> Router {
    let (router, _) = api_router().split_for_parts();
    router
        .merge(console::routes(state.clone()))
        .fallback(handlers::not_found)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .with_state(state)
        .layer(axum::middleware::from_fn(request_log::request_log))
}
