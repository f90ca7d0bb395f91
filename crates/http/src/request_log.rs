//! Request ids and the per-request log line.
//!
//! The middleware gives each request its id and a slot for the tenant. The id is also kept in a
//! task-local for the request's future, so an [`ApiError`](crate::error::ApiError) made anywhere
//! while serving it carries the id in its body without every handler passing it along; the
//! tenant slot is filled by the authenticating extractor, so the log line names the tenant
//! (never the key).

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

/// The id of the request being served; also sent back as `x-request-id`.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Where the authenticating extractor records the caller's tenant for the log line.
#[derive(Debug, Clone, Default)]
pub(crate) struct TenantSlot(Arc<OnceLock<String>>);

impl TenantSlot {
    pub(crate) fn record(&self, tenant: &str) {
        let _ = self.0.set(tenant.to_string());
    }
}

pub const REQUEST_ID_HEADER: &str = "x-request-id";

tokio::task_local! {
    static CURRENT_REQUEST_ID: String;
}

/// The id of the request this task is serving, or empty outside a request.
pub(crate) fn current_request_id() -> String {
    CURRENT_REQUEST_ID
        .try_with(Clone::clone)
        .unwrap_or_default()
}

/// Keeps a caller's id when it is short and plain (so it can be correlated across hops, e.g. the
/// API Gateway request id), otherwise makes one.
fn choose_request_id(request: &Request) -> String {
    request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| auditlog_core::api_error::is_plain_request_id(v))
        .map(str::to_string)
        .unwrap_or_else(|| ulid::Ulid::new().to_string())
}

pub async fn request_log(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = choose_request_id(&request);
    let method = request.method().clone();
    // The path only: query strings may carry filter values we would rather not log.
    let path = request.uri().path().to_string();
    let tenant_slot = TenantSlot::default();
    request.extensions_mut().insert(RequestId(id.clone()));
    request.extensions_mut().insert(tenant_slot.clone());
    let mut response = CURRENT_REQUEST_ID
        .scope(id.clone(), next.run(request))
        .await;
    let tenant = tenant_slot.0.get().map(String::as_str).unwrap_or_default();
    let status = response.status().as_u16();
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    if status >= 500 {
        tracing::error!(request_id = %id, %method, %path, status, latency_ms, tenant, "request failed");
    } else {
        tracing::info!(request_id = %id, %method, %path, status, latency_ms, tenant, "request");
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}
