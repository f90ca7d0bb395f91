//! The console: server-rendered pages of one tenant's log for a person holding a viewer session
//! (docs/console.md). Served by the same router as the API, so it works under `auditlog serve`
//! and behind API Gateway alike.
//!
//! # Layout
//!
//! - `session`: the one-time link exchange and the `session::Viewer` extractor (the cookie
//!   check every page shares), with the refusal page.
//! - `form`: the events page's URL, in and out (filters, presets, paging links).
//! - `events`: the events list and one event's detail.
//! - `destinations`: each destination's health, for admin sessions; `stream_card`: a stream's.
//! - `download`: the current filter as CSV or NDJSON, streamed and capped.
//! - `views`: the maud templates they share.
//!
//! Every answer carries a strict Content-Security-Policy (no inline script or style, framing
//! only by the configured origins), `nosniff`, `no-referrer` and `no-store`.

mod destinations;
mod download;
mod events;
mod form;
mod session;
mod stream_card;
mod views;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::AppState;

pub use session::COOKIE_NAME;

const STYLESHEET: &str = include_str!("console.css");

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLESHEET,
    )
        .into_response()
}

/// The security headers of every console answer.
async fn security_headers(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let csp = format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors {}",
        state.config.console_frame_ancestors
    );
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// The console's routes, with their security headers.
pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/console",
            get(|| async { Redirect::to("/console/events") }),
        )
        .route("/console/open", get(session::open))
        .route("/console/events", get(events::list))
        .route("/console/event", get(events::detail))
        .route("/console/download", get(download::download))
        .route("/console/destinations", get(destinations::list))
        .route("/console/assets/console.css", get(stylesheet))
        .layer(axum::middleware::from_fn_with_state(
            state,
            security_headers,
        ))
}
