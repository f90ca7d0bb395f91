//! `POST /v1/viewer-sessions`: a tenant admin's backend asks for a one-time console link for
//! one person (docs/console.md). The link is in the answer once; the store keeps its hash.

use auditlog_core::Timestamp;
use auditlog_core::viewer::{
    DEFAULT_LIFETIME_MS, FixedFilter, SessionRequest, check_request, issue,
};
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::{Admin, ApiKey, KeyRefusals};
use crate::error::{ApiError, ErrorBody, JsonBodyRefusals, StoreRefusal};
use crate::handlers::{read_json_body, store_unavailable};
use crate::self_audit::RequestOrigin;
use auditlog_core::self_audit::session_issued;

const MAX_BODY: usize = 16 * 1024;

/// The body of `POST /v1/viewer-sessions`; every field is optional.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewViewerSession {
    /// Seconds the session lasts, 60 to 43200 (12 h); default 3600.
    #[schema(minimum = 60, maximum = 43200)]
    expires_in: Option<i64>,
    /// What the viewer is limited to; they can narrow it but never widen it.
    #[serde(default, deserialize_with = "auditlog_core::strict::opt_object")]
    filter: Option<FixedFilter>,
    /// The person the session is for, shown on the pages.
    display_name: Option<String>,
    /// Whether the session also shows the tenant's export destinations.
    admin: Option<bool>,
}

/// A new viewer session. `url` opens the console once; it is shown only here.
#[derive(Debug, Serialize, ToSchema)]
pub struct ViewerSessionIssued {
    id: String,
    /// The one-time link, absolute (from the request's `Host` and `X-Forwarded-Proto`).
    url: String,
    /// The same link relative to the service's root, for a vendor that serves it elsewhere.
    path: String,
    expires_at: Timestamp,
    filter: FixedFilter,
    #[serde(skip_serializing_if = "Option::is_none")]
    display_name: Option<String>,
    admin: bool,
}

/// `https` when the request came through a TLS proxy (API Gateway, a load balancer).
pub(crate) fn is_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// The request's own origin, when its `Host` is a plain host name or address.
fn origin(headers: &HeaderMap) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let plain = !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    let scheme = if is_https(headers) { "https" } else { "http" };
    plain.then(|| format!("{scheme}://{host}"))
}

/// The console link of a link token.
pub fn link_path(token: &str) -> String {
    format!("/console/open?token={token}")
}

/// Issues a one-time console link for one person of the key's tenant.
#[utoipa::path(post, path = "/v1/viewer-sessions", tag = "console",
    security(("api_key" = ["admin"])),
    request_body(content = NewViewerSession, content_type = "application/json"),
    responses(
        (status = 201, description = "Issued; `url` opens the console once.", body = ViewerSessionIssued),
        JsonBodyRefusals,
        KeyRefusals,
        (status = 422, description = "`invalid_viewer_session`: `details` holds one `{pointer, message}` per problem.", body = ErrorBody),
        StoreRefusal,
    ))]
pub async fn create_viewer_session(
    State(state): State<AppState>,
    key: ApiKey<Admin>,
    RequestOrigin(client): RequestOrigin,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<ViewerSessionIssued>), ApiError> {
    let asked: NewViewerSession =
        read_json_body(&headers, body, MAX_BODY, "a viewer session request").await?;
    let request = SessionRequest {
        tenant: key.tenant().to_string(),
        filter: asked.filter.unwrap_or_default(),
        display_name: asked.display_name,
        admin: asked.admin.unwrap_or(false),
        issued_by: key.caller().reference(),
        lifetime_ms: asked
            .expires_in
            .map_or(DEFAULT_LIFETIME_MS, |s| s.saturating_mul(1000)),
    };
    let problems = check_request(&request);
    if !problems.is_empty() {
        let details: Vec<_> = problems
            .into_iter()
            .map(|p| json!({"pointer": p.parameter, "message": p.message}))
            .collect();
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_viewer_session",
            "the viewer session request is not valid; see details",
        )
        .with_details(json!(details)));
    }
    let issued = issue(request, rand::random(), rand::random(), (state.clock)());
    let record = state.self_event(
        key.tenant(),
        session_issued(key.caller(), &issued.session).origin(client),
    );
    state
        .store
        .create_viewer_session(&issued.session, &record)
        .await
        .map_err(store_unavailable)?;
    let path = link_path(&issued.link_token);
    let session = issued.session;
    tracing::info!(viewer_session = %session.id, "viewer session issued");
    Ok((
        StatusCode::CREATED,
        Json(ViewerSessionIssued {
            url: origin(&headers).map_or_else(|| path.clone(), |o| format!("{o}{path}")),
            path,
            id: session.id,
            expires_at: session.expires_at,
            filter: session.filter,
            display_name: session.display_name,
            admin: session.admin,
        }),
    ))
}
