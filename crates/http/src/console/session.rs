//! How a person gets into the console: the one-time link is exchanged for a session cookie
//! (`open`), and every page authenticates by that cookie through the [`Viewer`] extractor, as
//! the API's handlers do through `ApiKey`. Every refusal is a page that says what went wrong.

use auditlog_core::query::EventQuery;
use auditlog_core::viewer::{
    COOKIE_PREFIX, LINK_PREFIX, Refusal, ViewerSession, check_cookie, check_link, opened,
    session_id_of,
};
use axum::extract::{FromRequestParts, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use cookie::{Cookie, SameSite};

use super::views;
use crate::AppState;
use crate::request_log::TenantSlot;
use crate::self_audit::{RequestOrigin, origin_of};
use crate::viewer_sessions::is_https;
use auditlog_core::self_audit::{Origin, session_opened, session_refused};

/// The session cookie's name. Its path is `/console`, so the API never sees it.
pub const COOKIE_NAME: &str = "auditlog_console";

/// A refused way in, shown as a page.
pub struct RefusalPage {
    status: StatusCode,
    message: String,
}

impl RefusalPage {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        RefusalPage {
            status,
            message: message.into(),
        }
    }
}

impl From<Refusal> for RefusalPage {
    fn from(refusal: Refusal) -> Self {
        RefusalPage::new(StatusCode::FORBIDDEN, refusal.to_string())
    }
}

impl IntoResponse for RefusalPage {
    fn into_response(self) -> Response {
        (
            self.status,
            Html(views::refusal(&self.message).into_string()),
        )
            .into_response()
    }
}

fn unavailable(e: impl std::fmt::Display) -> RefusalPage {
    tracing::error!(error = %e, "store call failed");
    RefusalPage::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "the audit log cannot be read right now; reload the page in a moment",
    )
}

/// The session a link or cookie names, before its secret is checked.
async fn find(state: &AppState, prefix: &str, token: &str) -> Result<ViewerSession, RefusalPage> {
    let id = session_id_of(prefix, token).ok_or(Refusal::Malformed)?;
    Ok(state
        .store
        .find_viewer_session(id)
        .await
        .map_err(unavailable)?
        .ok_or(Refusal::Unknown)?)
}

/// A person with an open, unexpired viewer session: its record and its fixed filter.
pub struct Viewer {
    pub session: ViewerSession,
    pub fixed: EventQuery,
}

fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == COOKIE_NAME)
        .map(|c| c.value().to_string())
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = RefusalPage;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let cookie = session_cookie(&parts.headers).ok_or_else(|| {
            RefusalPage::new(
                StatusCode::UNAUTHORIZED,
                "no viewer session: open the console through a link from your administrator",
            )
        })?;
        let session = find(state, COOKIE_PREFIX, &cookie).await?;
        if let Err(refusal) = check_cookie(&session, &cookie, (state.clock)()) {
            let record =
                session_refused(&session, "cookie", &refusal.to_string()).origin(origin_of(parts));
            state.record_refusal(&session.tenant, record).await;
            return Err(refusal.into());
        }
        let fixed = session.filter.to_query().map_err(|_| {
            RefusalPage::new(StatusCode::INTERNAL_SERVER_ERROR, "this session is damaged")
        })?;
        if let Some(slot) = parts.extensions.get::<TenantSlot>() {
            slot.record(&session.tenant);
        }
        Ok(Viewer { session, fixed })
    }
}

/// Records a refused link of a known session, and the page that says why.
async fn refused(
    state: &AppState,
    session: &ViewerSession,
    refusal: Refusal,
    client: Origin,
) -> RefusalPage {
    let record = session_refused(session, "link", &refusal.to_string()).origin(client);
    state.record_refusal(&session.tenant, record).await;
    refusal.into()
}

/// `GET /console/open?token=vsl_...`: exchanges the one-time link for a session cookie, then
/// sends the browser on to the events (a page of our own, so the next request is same-site and
/// carries the SameSite=Strict cookie even when the link was followed from another site).
pub async fn open(
    State(state): State<AppState>,
    RequestOrigin(client): RequestOrigin,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, RefusalPage> {
    let token = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .ok_or(Refusal::Malformed)?;
    let session = find(&state, LINK_PREFIX, &token).await?;
    let now = (state.clock)();
    if let Err(refusal) = check_link(&session, &token, now) {
        return Err(refused(&state, &session, refusal, client).await);
    }
    let (session, cookie_value) = opened(&session, rand::random(), now);
    let record = state.self_event(
        &session.tenant,
        session_opened(&session).origin(client.clone()),
    );
    if !state
        .store
        .open_viewer_session(&session, &record)
        .await
        .map_err(unavailable)?
    {
        return Err(refused(&state, &session, Refusal::Used, client).await);
    }
    tracing::info!(viewer_session = %session.id, "viewer session opened");
    let lifetime = (session.expires_at.0 - now.0).max(0) / 1000;
    let cookie = Cookie::build((COOKIE_NAME, cookie_value))
        .path("/console")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(is_https(&headers))
        .max_age(cookie::time::Duration::seconds(lifetime))
        .build();
    let mut response = Html(views::opened(&session).into_string()).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}
