//! The ingest Lambda: the shared HTTP router (`auditlog-http`) behind API Gateway (HTTP API,
//! payload format 2.0), on the DynamoDB store.
//!
//! # Layout
//!
//! - [`handle`]: one invocation. `lambda_http` has already turned the API Gateway event into an
//!   HTTP request; this names the request with the Lambda request id, runs the router and
//!   returns the answer. Tests call it with requests parsed from `events/*.json`.
//! - [`check_lambda_limits`]: the settings must fit what Lambda, API Gateway and DynamoDB accept.
//! - `main.rs`: builds the store, the settings and the router once per cold start.

use std::convert::Infallible;

use auditlog_aws::limits::MAX_EVENT_BYTES;
use auditlog_http::self_audit::ClientAddr;
use auditlog_settings::ApiArgs;
use axum::Router;
use axum::http::HeaderValue;
use http_body_util::BodyExt as _;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt as _, Response};
use tower::ServiceExt as _;

/// Lambda refuses a synchronous request payload over 6 MB; the body may arrive base64-encoded
/// (4/3 larger) inside the event JSON with its headers, so 4 MiB of body is what fits.
pub const LAMBDA_MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;
/// Lambda refuses a response payload over 6 MB; keep a margin for the envelope and headers.
pub const LAMBDA_MAX_RESPONSE_BYTES: usize = 5 * 1024 * 1024 + 512 * 1024;

/// Every `AUDITLOG_*` variable the function reads (the template test checks that
/// `template.yaml` sets each one).
pub fn env_names() -> Vec<String> {
    let mut names = auditlog_settings::env_names::<ApiArgs>();
    names.extend(auditlog_aws::DynamoConfig::ENV_NAMES.map(String::from));
    names.push("AUDITLOG_LOG".into());
    names
}

/// A setting over what AWS accepts: the text names it, the limit and who refuses beyond it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{setting}={value} is over {max}: {why}")]
pub struct OverLimit {
    pub setting: &'static str,
    pub value: usize,
    pub max: usize,
    pub why: &'static str,
}

/// Refuses settings that AWS would refuse later, request by request.
pub fn check_lambda_limits(api: &ApiArgs) -> Result<(), OverLimit> {
    let checks = [
        (
            "AUDITLOG_MAX_REQUEST_BYTES",
            api.max_request_bytes,
            LAMBDA_MAX_REQUEST_BYTES,
            "Lambda refuses request payloads over 6 MB",
        ),
        (
            "AUDITLOG_MAX_RESPONSE_BYTES",
            api.max_response_bytes,
            LAMBDA_MAX_RESPONSE_BYTES,
            "Lambda refuses responses over 6 MB",
        ),
        (
            "AUDITLOG_MAX_EVENT_BYTES",
            api.max_event_bytes,
            MAX_EVENT_BYTES,
            "a stored event must fit in a 400 KB DynamoDB item",
        ),
    ];
    for (setting, value, max, why) in checks {
        if value > max {
            return Err(OverLimit {
                setting,
                value,
                max,
                why,
            });
        }
    }
    Ok(())
}

fn source_ip(request: &Request) -> Option<std::net::IpAddr> {
    match request.request_context_ref()? {
        RequestContext::ApiGatewayV2(context) => context.http.source_ip.as_deref()?.parse().ok(),
        #[allow(unreachable_patterns)] // other event sources, if the features ever add them
        _ => None,
    }
}

/// One invocation: the request through the router, the answer back to `lambda_http`.
///
/// The request is named by the Lambda request id (the `x-request-id` the caller gets back and
/// the `request_id` of the log line), so a caller's report leads straight to the invocation's
/// logs; the runtime's span adds the same id to every other log line of the invocation.
pub async fn handle(router: Router, mut request: Request) -> Result<Response<Body>, Infallible> {
    let invocation_id = request
        .lambda_context_ref()
        .map(|context| context.request_id.clone())
        .filter(|id| !id.is_empty());
    if let Some(id) = invocation_id
        && let Ok(value) = HeaderValue::from_str(&id)
    {
        request.headers_mut().insert("x-request-id", value);
    }
    // The address API Gateway saw the client connect from, for self-audit records (a header
    // such as X-Forwarded-For is the client's to write, so it is not used).
    if let Some(ip) = source_ip(&request) {
        request.extensions_mut().insert(ClientAddr(ip));
    }
    let response = match router.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let (parts, body) = response.into_parts();
    // The router's bodies are in memory already; reading them cannot fail, but if it did the
    // caller gets a 500 and the log says why.
    let bytes = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            tracing::error!(error = %e, "could not read the router's answer");
            let mut failed = Response::new(Body::Text(
                r#"{"error":{"code":"internal","message":"the answer could not be produced"}}"#
                    .into(),
            ));
            *failed.status_mut() = axum::http::StatusCode::INTERNAL_SERVER_ERROR;
            return Ok(failed);
        }
    };
    let body = match String::from_utf8(bytes.to_vec()) {
        Ok(text) if text.is_empty() => Body::Empty,
        Ok(text) => Body::Text(text),
        Err(e) => Body::Binary(e.into_bytes()),
    };
    Ok(Response::from_parts(parts, body))
}
