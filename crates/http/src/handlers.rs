//! One function per route.

use auditlog_core::cursor::{Position, decode_cursor, encode_cursor};
use auditlog_core::ingest::{PreparedItem, RequestError, check_content_type, prepare_request};
use auditlog_core::integrity::receipt;
use auditlog_core::keys::Scope;
use auditlog_core::query::parse_query;
use auditlog_core::store::{AppendStatus, NewEvent, PageRequest};
use auditlog_core::validate::{FieldError, IngestContext, MAX_ID_CHARS};
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use http_body_util::BodyExt;
use serde::Serialize;
use serde_json::json;

use crate::AppState;
use crate::auth::authorize;
use crate::error::ApiError;
use crate::request_log::{AuthenticatedTenant, RequestId};

pub(crate) fn store_unavailable(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "store call failed");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "store_unavailable",
        "the event store is unavailable; retrying the same request is safe",
    )
}

pub(crate) fn with_tenant(mut response: Response, tenant: &str) -> Response {
    response
        .extensions_mut()
        .insert(AuthenticatedTenant(tenant.to_string()));
    response
}

fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

pub async fn health() -> Response {
    Json(json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")})).into_response()
}

/// `GET /v1/integrity/keys`: the public keys that sign export digests, for verifiers. Public
/// by design (no API key): the people who check digests are the customers' security teams,
/// who hold no key to this API, and a public key reveals nothing.
pub async fn integrity_keys(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
) -> Response {
    match state.store.signing_keys().await {
        Ok(keys) => Json(auditlog_core::signing::PublicKeys::of(&keys)).into_response(),
        Err(e) => store_unavailable(e).for_request(&rid.0).into_response(),
    }
}

pub async fn not_found(Extension(rid): Extension<RequestId>, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!(
            "no route for {}; routes are /v1/events, /v1/events/{{id}}, /v1/destinations, /v1/destinations/{{id}}, /v1/destinations/{{id}}/status, /v1/integrity/keys, /v1/health",
            uri.path()
        ),
    )
    .for_request(&rid.0)
}

pub async fn method_not_allowed(
    Extension(rid): Extension<RequestId>,
    method: Method,
    uri: Uri,
) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} is not allowed on {}", method, uri.path()),
    )
    .for_request(&rid.0)
}

#[derive(Serialize)]
struct ItemResult {
    index: usize,
    id: Option<String>,
    status: &'static str,
    /// The receipt of an accepted event: SHA-256 of its canonical stored form, which its line
    /// in every export carries too (docs/integrity.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
    #[serde(skip_serializing_if = "is_zero")]
    redacted: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<FieldError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[derive(Serialize, Default)]
struct IngestSummary {
    request_id: String,
    accepted: usize,
    duplicate: usize,
    rejected: usize,
    failed: usize,
    redacted: usize,
    items: Vec<ItemResult>,
}

pub(crate) async fn read_body(body: Body, max: usize) -> Result<Bytes, ApiError> {
    let unreadable = || {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "unreadable_body",
            "the request body could not be read",
        )
    };
    let mut body = body;
    let mut kept = bytes::BytesMut::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| unreadable())?;
        let Ok(chunk) = frame.into_data() else {
            continue; // trailers
        };
        seen = seen.saturating_add(chunk.len());
        if seen <= max {
            kept.extend_from_slice(&chunk);
        } else if seen > max.saturating_mul(DRAIN_FACTOR) {
            // Past this, stop reading: the client may see the connection close first.
            break;
        }
        // Over the limit, keep reading (and dropping) a bounded amount: a client still
        // sending when the answer comes would see its connection reset instead of the 413.
    }
    if seen > max {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("request body exceeds {max} bytes"),
        ));
    }
    Ok(kept.freeze())
}

/// How far past the size limit a request body is read (and dropped) before the 413 answer.
const DRAIN_FACTOR: usize = 4;

fn check_json_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let value = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    check_content_type(value).map_err(|message| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            message,
        )
    })
}

/// `POST /v1/events`.
pub async fn post_events(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let key = match authorize(&state, &headers, Scope::Write).await {
        Ok(k) => k,
        Err(e) => return e.for_request(&rid.0).into_response(),
    };
    let tenant = key.tenant.as_str();
    let result = ingest(&state, &rid.0, tenant, &headers, body).await;
    let response = match result {
        Ok(r) => r,
        Err(e) => e.for_request(&rid.0).into_response(),
    };
    with_tenant(response, tenant)
}

async fn ingest(
    state: &AppState,
    rid: &str,
    tenant: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    check_json_content_type(headers)?;
    let limits = &state.config.limits;
    if let Some(length) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        && length > limits.max_request_bytes
    {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!(
                "request body is {length} bytes; the limit is {} bytes",
                limits.max_request_bytes
            ),
        ));
    }
    let bytes = read_body(body, limits.max_request_bytes).await?;
    let now = (state.clock)();
    let ctx = IngestContext {
        tenant,
        received_at: now,
        limits,
        redactor: &state.config.redactor,
    };
    let mut fresh_id = || ulid::Ulid::new().to_string();
    let prepared = prepare_request(&bytes, &ctx, &mut fresh_id).map_err(request_error)?;

    let expires_at = auditlog_core::Timestamp(now.0.saturating_add(state.config.retention_ms));
    // Valid events and, beside them, their positions in the request (for the answer).
    let mut events = Vec::new();
    let mut positions = Vec::new();
    let mut summary = IngestSummary {
        request_id: rid.to_string(),
        ..IngestSummary::default()
    };
    for (index, item) in prepared.into_iter().enumerate() {
        match item {
            PreparedItem::Valid(p) => {
                let sha256 = match receipt(&p.json) {
                    Ok(sha256) => Some(sha256),
                    Err(e) => {
                        tracing::error!(error = %e, "no receipt for a validated event");
                        None
                    }
                };
                summary.items.push(ItemResult {
                    index,
                    id: Some(p.event.id.clone()),
                    status: "accepted",
                    sha256,
                    redacted: p.redacted,
                    errors: Vec::new(),
                    message: None,
                });
                positions.push(index);
                events.push(NewEvent {
                    event: p.event,
                    json: p.json,
                    expires_at,
                });
            }
            PreparedItem::Rejected { id, errors } => {
                summary.rejected += 1;
                summary.items.push(ItemResult {
                    index,
                    id: id.filter(|i| i.chars().count() <= MAX_ID_CHARS),
                    status: "rejected",
                    sha256: None,
                    redacted: 0,
                    errors,
                    message: None,
                });
            }
        }
    }

    if !events.is_empty() {
        let statuses = match state.store.append_events(tenant, &events, now).await {
            Ok(s) if s.len() == events.len() => s,
            Ok(_) => {
                tracing::error!("store answered a different number of statuses than events sent");
                vec![
                    AppendStatus::Failed("the store gave no answer for this event".into());
                    events.len()
                ]
            }
            Err(e) => {
                tracing::error!(error = %e, "append failed");
                vec![
                    AppendStatus::Failed(format!("not stored: {e}; retrying is safe"));
                    events.len()
                ]
            }
        };
        for (index, status) in positions.into_iter().zip(statuses) {
            let item = &mut summary.items[index];
            match status {
                AppendStatus::Stored => {
                    summary.accepted += 1;
                    summary.redacted += item.redacted;
                }
                AppendStatus::Duplicate => {
                    // The receipt was given when the event was first accepted; this copy was
                    // not stored and may differ from it.
                    item.status = "duplicate";
                    item.sha256 = None;
                    item.redacted = 0;
                    summary.duplicate += 1;
                }
                AppendStatus::Failed(message) => {
                    item.status = "failed";
                    item.sha256 = None;
                    item.redacted = 0;
                    item.message = Some(message);
                    summary.failed += 1;
                }
            }
        }
    }

    let stored = summary.accepted + summary.duplicate;
    let status = if summary.rejected == 0 && summary.failed == 0 {
        StatusCode::CREATED
    } else if stored > 0 {
        StatusCode::MULTI_STATUS
    } else if summary.failed > 0 {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((status, Json(summary)).into_response())
}

fn request_error(e: RequestError) -> ApiError {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let err = ApiError::new(status, e.code(), e.to_string());
    match e.details() {
        Some(d) => err.with_details(d),
        None => err,
    }
}

/// `GET /v1/events`.
pub async fn list_events(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let key = match authorize(&state, &headers, Scope::Read).await {
        Ok(k) => k,
        Err(e) => return e.for_request(&rid.0).into_response(),
    };
    let response = match list(&state, &key.tenant, raw.as_deref().unwrap_or("")).await {
        Ok(r) => r,
        Err(e) => e.for_request(&rid.0).into_response(),
    };
    with_tenant(response, &key.tenant)
}

async fn list(state: &AppState, tenant: &str, raw: &str) -> Result<Response, ApiError> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .collect();
    let parsed = parse_query(&pairs).map_err(|errors| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            "one or more query parameters are invalid",
        )
        .with_details(json!(errors))
    })?;
    let query = parsed.query;
    let after: Option<Position> = match &parsed.cursor {
        Some(text) => Some(
            decode_cursor(&state.config.cursor_key, tenant, &query, text).map_err(|e| {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_cursor", e.to_string())
            })?,
        ),
        None => None,
    };
    let mut rows = state
        .store
        .query_events(PageRequest {
            tenant,
            query: &query,
            after: after.as_ref(),
            now: (state.clock)(),
        })
        .await
        .map_err(store_unavailable)?;
    // A page holds at most `limit` events and at most `max_response_bytes` (the envelope and
    // cursor take well under 1 KB); it always holds one event, which is far smaller than that.
    let budget = state.config.max_response_bytes.saturating_sub(1024);
    let mut page_bytes = 0;
    let mut keep = 0;
    for row in rows.iter().take(query.limit) {
        if keep > 0 && page_bytes + row.json.len() + 1 > budget {
            break;
        }
        page_bytes += row.json.len() + 1;
        keep += 1;
    }
    let has_more = rows.len() > keep;
    rows.truncate(keep);
    let next_cursor = match (has_more, rows.last()) {
        (true, Some(last)) => Some(encode_cursor(
            &state.config.cursor_key,
            tenant,
            &query,
            &last.position,
        )),
        _ => None,
    };
    // The stored JSON is spliced in as is: it was produced by serde from our own types.
    let mut body = String::with_capacity(rows.iter().map(|r| r.json.len() + 1).sum::<usize>() + 64);
    body.push_str("{\"events\":[");
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&row.json);
    }
    body.push_str("],\"next_cursor\":");
    body.push_str(&serde_json::to_string(&next_cursor).unwrap_or_else(|_| "null".into()));
    body.push('}');
    Ok(json_response(StatusCode::OK, body))
}

/// `GET /v1/events/{id}`.
pub async fn get_event(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let key = match authorize(&state, &headers, Scope::Read).await {
        Ok(k) => k,
        Err(e) => return e.for_request(&rid.0).into_response(),
    };
    let result = if id.is_empty() || id.chars().count() > MAX_ID_CHARS {
        Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_id",
            format!("an event id is 1 to {MAX_ID_CHARS} characters"),
        ))
    } else {
        match state
            .store
            .get_event(&key.tenant, &id, (state.clock)())
            .await
        {
            Ok(Some(json)) => Ok(json_response(StatusCode::OK, json)),
            Ok(None) => Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "event_not_found",
                "no event with this id for this tenant",
            )),
            Err(e) => Err(store_unavailable(e)),
        }
    };
    let response = result.unwrap_or_else(|e| e.for_request(&rid.0).into_response());
    with_tenant(response, &key.tenant)
}
