//! Request ids and the per-request log line.

use std::time::Instant;

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

/// The id of the request being served; also sent back as `x-request-id`.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Set by handlers on the response once the caller is authenticated, so the log line can name
/// the tenant (never the key).
#[derive(Debug, Clone)]
pub struct AuthenticatedTenant(pub String);

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Keeps a caller's id when it is short and plain (so it can be correlated across hops, e.g. the
/// API Gateway request id), otherwise makes one.
fn choose_request_id(request: &Request) -> String {
    request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (1..=64).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_string)
        .unwrap_or_else(|| ulid::Ulid::new().to_string())
}

pub async fn request_log(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = choose_request_id(&request);
    let method = request.method().clone();
    // The path only: query strings may carry filter values we would rather not log.
    let path = request.uri().path().to_string();
    request.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.run(request).await;
    let tenant = response
        .extensions()
        .get::<AuthenticatedTenant>()
        .map(|t| t.0.clone())
        .unwrap_or_default();
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
