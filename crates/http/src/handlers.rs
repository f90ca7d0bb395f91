//! The event routes, health and the public integrity keys: one function per route, each
//! described for the OpenAPI document by its `#[utoipa::path]` (see `openapi`).

use auditlog_core::ingest::{
    RequestError, UNREADABLE_BODY, body_exceeds, check_content_type, check_declared_length,
    prepare_request,
};
use auditlog_core::query::parse_query;
use auditlog_core::strict::ObjectOnly;
use auditlog_core::validate::{IngestContext, MAX_ID_CHARS};
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::{ApiKey, KeyRefusals, Read, Write};
use crate::error::{ApiError, ErrorBody, StoreRefusal};
use crate::event_pages::{Page, read_page};
use crate::ingest_answer::{IngestSummary, IngestUnavailable, store_items};
use crate::openapi::EventPage;
use crate::self_audit::{RequestOrigin, filters_of};
use auditlog_core::event::Outcome;
use auditlog_core::self_audit::{SelfAction, SelfEvent};

pub(crate) fn store_unavailable(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "store call failed");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "store_unavailable",
        "the event store is unavailable; retrying the same request is safe",
    )
}

fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// A path segment naming an event or a destination: 1 to 128 characters. A segment that is
/// not valid percent-encoded UTF-8 gets our error shape too, not axum's plain-text rejection.
pub struct PathId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let invalid = || {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_id",
                format!("an id is 1 to {MAX_ID_CHARS} characters of UTF-8"),
            )
        };
        let Path(id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| invalid())?;
        if id.is_empty() || id.chars().count() > MAX_ID_CHARS {
            return Err(invalid());
        }
        Ok(PathId(id))
    }
}

/// The liveness answer.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    status: &'static str,
    /// The service's version.
    version: &'static str,
}

/// Liveness: no key, no store call.
#[utoipa::path(get, path = "/v1/health", tag = "service", security(()),
    responses((status = 200, description = "The service is up.", body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// The public keys that sign export digests, for verifiers. Public by design (no API key):
/// the people who check digests are the customers' security teams, who hold no key to this
/// API, and a public key reveals nothing.
#[utoipa::path(get, path = "/v1/integrity/keys", tag = "integrity", security(()),
    responses(
        (status = 200, description = "Every key that ever signed a digest, retired ones included.",
            body = auditlog_core::signing::PublicKeys),
        StoreRefusal,
    ))]
pub async fn integrity_keys(
    State(state): State<AppState>,
) -> Result<Json<auditlog_core::signing::PublicKeys>, ApiError> {
    let keys = state
        .store
        .signing_keys()
        .await
        .map_err(store_unavailable)?;
    Ok(Json(auditlog_core::signing::PublicKeys::of(&keys)))
}

pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!(
            "no route for {}; the routes are listed at /v1/openapi.json",
            uri.path()
        ),
    )
}

pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} is not allowed on {}", method, uri.path()),
    )
}

pub(crate) async fn read_body(body: Body, max: usize) -> Result<Bytes, ApiError> {
    let unreadable = || ApiError::new(StatusCode::BAD_REQUEST, "unreadable_body", UNREADABLE_BODY);
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
            body_exceeds(max),
        ));
    }
    Ok(kept.freeze())
}

/// How far past the size limit a request body is read (and dropped) before the 413 answer.
const DRAIN_FACTOR: usize = 4;

pub(crate) fn check_json_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let value = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    check_content_type(value).map_err(|message| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            message.to_string(),
        )
    })
}

/// A small JSON body of an admin route: `application/json`, at most `max` bytes, and of type
/// `T` (whose unknown fields are refused), or the error that says which of these failed.
pub(crate) async fn read_json_body<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
    max: usize,
    what: &str,
) -> Result<T, ApiError> {
    check_json_content_type(headers)?;
    let bytes = read_body(body, max).await?;
    serde_json::from_slice::<ObjectOnly<T>>(&bytes)
        .map(|ObjectOnly(t)| t)
        .map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                format!("the body is not {what}: {e}"),
            )
        })
}

/// Send one event, or a batch of up to `AUDITLOG_MAX_BATCH_EVENTS`. Each item is judged on its
/// own; the answer lists every item in request order (docs/api.md).
#[utoipa::path(post, path = "/v1/events", tag = "events",
    security(("api_key" = ["write"])),
    request_body(content = ref("#/components/schemas/EventsRequest"), content_type = "application/json",
        description = "One event, or `{\"events\": [...]}`."),
    responses(
        (status = 201, description = "Every item stored: each `accepted` or `duplicate`.", body = IngestSummary),
        (status = 207, description = "Some items stored, others `rejected` (with their errors) or `failed`.", body = IngestSummary),
        (status = 422, description = "Nothing stored: every item was `rejected`.", body = IngestSummary),
        (status = 503, description = "Nothing stored: the store failed while storing (`failed` items), or `store_unavailable` before (the key could not be checked). Resending is safe.", body = IngestUnavailable),
        (status = 400, description = "`empty_body`, `malformed_json` (details: line, column), `invalid_envelope` (details: pointer), `empty_batch`, `unreadable_body`.", body = ErrorBody),
        KeyRefusals,
        (status = 413, description = "`body_too_large` or `too_many_events`.", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: send `application/json`.", body = ErrorBody),
    ))]
pub async fn post_events(
    State(state): State<AppState>,
    key: ApiKey<Write>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<IngestSummary>), ApiError> {
    check_json_content_type(&headers)?;
    let limits = &state.config.limits;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok());
    if let Err(e) = check_declared_length(declared, limits.max_request_bytes) {
        // The body is read and dropped all the same (a bounded amount, as past the limit
        // below): left unread, the server closes the connection, cutting off a keep-alive
        // client's next request. The answer is the declared size's.
        let _ = read_body(body, limits.max_request_bytes).await;
        return Err(request_error(e));
    }
    let bytes = read_body(body, limits.max_request_bytes).await?;
    let now = (state.clock)();
    let ctx = IngestContext {
        tenant: key.tenant(),
        received_at: now,
        limits,
        redactor: &state.config.redactor,
    };
    let mut fresh_id = || ulid::Ulid::new().to_string();
    let prepared = prepare_request(&bytes, &ctx, &mut fresh_id).map_err(request_error)?;
    let summary = store_items(&state, key.tenant(), prepared, now).await;
    let status =
        StatusCode::from_u16(summary.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    Ok((status, Json(summary)))
}

fn request_error(e: RequestError) -> ApiError {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let err = ApiError::new(status, e.code(), e.to_string());
    match e.details() {
        Some(d) => err.with_details(d),
        None => err,
    }
}

/// The tenant's events, filtered and paged (docs/api.md: ordering and paging).
#[utoipa::path(get, path = "/v1/events", tag = "events",
    security(("api_key" = ["read"])),
    params(crate::openapi::EventFilters),
    responses(
        (status = 200, description = "A page; `next_cursor` is null on the last one.", body = EventPage),
        (status = 400, description = "`invalid_query` (details name each bad parameter) or `invalid_cursor`.", body = ErrorBody),
        KeyRefusals,
        StoreRefusal,
    ))]
pub async fn list_events(
    State(state): State<AppState>,
    key: ApiKey<Read>,
    RequestOrigin(origin): RequestOrigin,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let tenant = key.tenant();
    let pairs: Vec<(String, String)> = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
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
    let Page {
        rows,
        next_cursor,
        until,
    } = read_page(&state, tenant, &parsed.query, parsed.cursor.as_deref()).await?;
    let record = SelfEvent::new(SelfAction::EventsListed, key.caller())
        .detail("filters", filters_of(&parsed.query))
        .detail("order", parsed.query.order.as_str())
        .detail("continued", parsed.cursor.is_some())
        .detail("returned", rows.len())
        .detail("more", next_cursor.is_some())
        .origin(origin);
    // Stamped at or after the session's end, so no page of this session holds it.
    state.record_after(tenant, record, until).await?;
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

/// One stored event of the tenant's. Expired events are not returned.
#[utoipa::path(get, path = "/v1/events/{id}", tag = "events",
    security(("api_key" = ["read"])),
    params(("id" = String, Path, description = "The event's id (1-128 characters).")),
    responses(
        (status = 200, description = "The stored event.", body = ref("#/components/schemas/StoredEvent")),
        (status = 400, description = "`invalid_id`: over 128 characters.", body = ErrorBody),
        KeyRefusals,
        (status = 404, description = "`event_not_found`: none with this id for this tenant.", body = ErrorBody),
        StoreRefusal,
    ))]
pub async fn get_event(
    State(state): State<AppState>,
    key: ApiKey<Read>,
    RequestOrigin(origin): RequestOrigin,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    let found = state
        .store
        .get_event(key.tenant(), &id, (state.clock)())
        .await
        .map_err(store_unavailable)?;
    let record = SelfEvent::new(SelfAction::EventRead, key.caller())
        .target("event", &id, None)
        .detail("returned", usize::from(found.is_some()))
        .outcome(if found.is_some() {
            Outcome::Success
        } else {
            Outcome::Failure
        })
        .origin(origin);
    state.record(key.tenant(), record).await?;
    match found {
        Some(json) => Ok(json_response(StatusCode::OK, json)),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "event_not_found",
            "no event with this id for this tenant",
        )),
    }
}
