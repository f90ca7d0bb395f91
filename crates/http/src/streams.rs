//! Admin routes for stream destinations (keys with the `admin` scope): add a stream, read its
//! status, pause, resume and replay it (`docs/streams.md`). A stream is a destination like the
//! object stores: listed and removed through `/v1/destinations`, and a destination of another
//! tenant answers 404. Every control is written with its self-audit record, atomically.

use auditlog_core::Timestamp;
use auditlog_core::export::machine;
use auditlog_core::export::{Destination, Target};
use auditlog_core::self_audit::{SelfAction, SelfEvent};
use auditlog_core::store::{ExportStore, NewEvent, StoreError, change_export, change_stream};
use auditlog_core::stream::delivery::{self, StreamState};
use auditlog_core::stream::status::StreamStatus;
use auditlog_core::stream::target::{Author, stream_settings};
use auditlog_core::time::parse_rfc3339;
use auditlog_export::{DestinationStatus, destination_status};
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse as _, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::{Admin, ApiKey, KeyRefusals};
use crate::destinations::{DestinationView, add_replay_set, owned, store_new};
use crate::error::{ApiError, ErrorBody, JsonBodyRefusals, StoreRefusal};
use crate::handlers::{PathId, read_json_body, store_unavailable};
use crate::self_audit::RequestOrigin;

/// Largest `POST /v1/streams` body: a target, a filter of at most 2 × 50 patterns and 50 class
/// rules fit well within it.
const MAX_STREAM_BODY: usize = 32 * 1024;
/// Largest `POST .../replay` body.
const MAX_REPLAY_BODY: usize = 1024;

/// The body of `POST /v1/streams` (docs/streams.md): exactly one of the four targets, with the
/// optional format, filter and OCSF class rules. Secrets are named, never given:
/// `AUDITLOG_TENANT_{TENANT}_...` environment variables the operator sets for the tenant.
#[derive(ToSchema)]
#[allow(dead_code)] // a description only: the body is read by `stream_settings`
pub struct NewStream {
    /// `{"url": "https://...", "secret_env": "AUDITLOG_TENANT_ACME_HOOK"}`; during a rotation
    /// also `previous_secret_env` and `previous_until` (RFC 3339).
    #[schema(value_type = Option<Object>)]
    webhook: Option<Value>,
    /// `{"url", "token_env", "index"?, "source"?, "sourcetype"?}`.
    #[schema(value_type = Option<Object>)]
    splunk: Option<Value>,
    /// `{"site", "api_key_env", "url"?}`.
    #[schema(value_type = Option<Object>)]
    datadog: Option<Value>,
    /// `{"url", "index", "api_key_env"}` or `{"url", "index", "username", "password_env"}`.
    #[schema(value_type = Option<Object>)]
    elasticsearch: Option<Value>,
    /// `v1` (default), `ocsf` or `ecs`.
    format: Option<String>,
    /// `{"include": {"actions": [...], "outcomes": [...]}, "exclude": {...}}`.
    #[schema(value_type = Option<Object>)]
    filter: Option<Value>,
    /// `[{"prefix": "billing.", "class": "api_activity"}]`.
    #[schema(value_type = Option<Vec<Object>>)]
    ocsf_classes: Option<Value>,
}

/// The body of `POST /v1/destinations/{id}/replay`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Replay {
    /// Deliver again every event received at or after this time (RFC 3339).
    from: String,
}

fn invalid(details: Value) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_destination",
        "the destination is not valid; see details",
    )
    .with_details(details)
}

/// Adds a stream destination: a webhook, Splunk HEC, Datadog, or Elasticsearch/OpenSearch.
#[utoipa::path(post, path = "/v1/streams", tag = "destinations",
    security(("api_key" = ["admin"])),
    request_body(content = NewStream, content_type = "application/json"),
    responses(
        (status = 201, description = "Added; it starts with the oldest retained event.", body = DestinationView),
        JsonBodyRefusals,
        KeyRefusals,
        (status = 422, description = "`invalid_destination`: `details` holds one `{pointer, message}` per problem.", body = ErrorBody),
        StoreRefusal,
    ))]
pub async fn add_stream(
    State(state): State<AppState>,
    key: ApiKey<Admin>,
    RequestOrigin(origin): RequestOrigin,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<DestinationView>), ApiError> {
    let body: serde_json::Map<String, Value> =
        read_json_body(&headers, body, MAX_STREAM_BODY, "a stream object").await?;
    let settings = stream_settings(
        &Value::Object(body),
        Author::Tenant(key.tenant()),
        state.config.stream_policy,
    )
    .map_err(|problems| invalid(json!(problems)))?;
    let stream = Target::Stream(Box::new(settings));
    // A stream's compression and filter live in its settings.
    let options = auditlog_core::export::ObjectOptions::default();
    let view = store_new(&state, &key, origin, stream, options).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// The tenant's stream `id`: 404 when none, 409 when it is an object store.
async fn owned_stream(state: &AppState, tenant: &str, id: &str) -> Result<Destination, ApiError> {
    let destination = owned(state, tenant, id).await?;
    if destination.target.is_object_store() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_a_stream",
            "this destination is an object store, not a stream: its status is at /v1/destinations/{id}/status, and replay is for streams",
        ));
    }
    Ok(destination)
}

async fn status_of(state: &AppState, destination: &Destination) -> Result<StreamStatus, ApiError> {
    let store: &dyn auditlog_core::store::ExportStore = state.store.as_ref();
    auditlog_export::deliver::stream_status(
        store,
        destination,
        state.config.retention_ms,
        (state.clock)(),
    )
    .await
    .map_err(store_unavailable)
}

/// A stream's condition (active, paused, stopped with its error and hint, retrying), its
/// checkpoint, counts, and its backlog with the retention warning.
#[utoipa::path(get, path = "/v1/destinations/{id}/stream", tag = "destinations",
    security(("api_key" = ["admin"])),
    params(("id" = String, Path, description = "The destination's id (`dst_...`).")),
    responses(
        (status = 200, description = "The stream's status (docs/streams.md).", body = StreamStatus),
        (status = 400, description = "`invalid_id`: over 128 characters.", body = ErrorBody),
        KeyRefusals,
        (status = 404, description = "`destination_not_found`: none with this id for this tenant.", body = ErrorBody),
        (status = 409, description = "`not_a_stream`: an object-store destination.", body = ErrorBody),
        StoreRefusal,
    ))]
pub async fn stream_status(
    State(state): State<AppState>,
    key: ApiKey<Admin>,
    PathId(id): PathId,
) -> Result<Json<StreamStatus>, ApiError> {
    let destination = owned_stream(&state, key.tenant(), &id).await?;
    Ok(Json(status_of(&state, &destination).await?))
}

/// What a control answers: the status of the stream, or of the object store.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ControlAnswer {
    Stream(StreamStatus),
    ObjectStore(DestinationStatus),
}

/// A person's control of a destination: what its self-audit record says.
struct Control {
    action: SelfAction,
    detail: Option<(&'static str, String)>,
}

impl Control {
    /// Applies `change` to the tenant's stream `id` by compare-and-set, with the record
    /// written atomically; answers the status after it.
    async fn apply(
        self,
        state: &AppState,
        key: &ApiKey<Admin>,
        origin: auditlog_core::self_audit::Origin,
        id: &str,
        change: impl Fn(&StreamState) -> StreamState,
    ) -> Result<StreamStatus, ApiError> {
        let destination = owned_stream(state, key.tenant(), id).await?;
        let event = self.record(state, key, origin, &destination);
        if change_stream(state.store.as_ref(), &destination.id, change, &event)
            .await
            .map_err(store_unavailable)?
        {
            return status_of(state, &destination).await;
        }
        Err(changing())
    }

    /// Pause or resume, of a stream or an object store.
    async fn apply_any(
        self,
        state: &AppState,
        key: &ApiKey<Admin>,
        origin: auditlog_core::self_audit::Origin,
        id: &str,
        pause: bool,
    ) -> Result<ControlAnswer, ApiError> {
        let destination = owned(state, key.tenant(), id).await?;
        if !destination.target.is_object_store() {
            let change = if pause {
                delivery::pause
            } else {
                delivery::resume
            };
            return Ok(ControlAnswer::Stream(
                self.apply(state, key, origin, id, change).await?,
            ));
        }
        let change = if pause {
            machine::pause
        } else {
            machine::resume
        };
        let event = self.record(state, key, origin, &destination);
        if change_export(state.store.as_ref(), &destination.id, change, &event)
            .await
            .map_err(store_unavailable)?
        {
            let store: &dyn ExportStore = state.store.as_ref();
            let status = destination_status(store, &destination, (state.clock)())
                .await
                .map_err(store_unavailable)?;
            return Ok(ControlAnswer::ObjectStore(status));
        }
        Err(changing())
    }

    fn record(
        self,
        state: &AppState,
        key: &ApiKey<Admin>,
        origin: auditlog_core::self_audit::Origin,
        destination: &Destination,
    ) -> NewEvent {
        let mut record = SelfEvent::new(self.action, key.caller())
            .destination(destination)
            .origin(origin);
        if let Some((name, value)) = self.detail {
            record = record.detail(name, value);
        }
        state.self_event(&destination.tenant, record)
    }
}

fn changing() -> ApiError {
    store_unavailable(StoreError::Unavailable(
        "the destination's state kept changing under this request; retry".into(),
    ))
}

/// Pauses a destination: a stream sends nothing, an object store writes nothing (objects nor
/// digests); the configuration and checkpoint are kept, and the backlog grows in its status.
#[utoipa::path(post, path = "/v1/destinations/{id}/pause", tag = "destinations",
    security(("api_key" = ["admin"])),
    params(("id" = String, Path, description = "The destination's id (`dst_...`).")),
    responses(
        (status = 200, description = "Paused; its status (a stream's, or an object store's).", body = ControlAnswer),
        (status = 400, description = "`invalid_id`: over 128 characters.", body = ErrorBody),
        KeyRefusals,
        (status = 404, description = "`destination_not_found`: none with this id for this tenant.", body = ErrorBody),
        StoreRefusal,
    ))]
pub async fn pause_destination(
    State(state): State<AppState>,
    key: ApiKey<Admin>,
    RequestOrigin(origin): RequestOrigin,
    PathId(id): PathId,
) -> Result<Json<ControlAnswer>, ApiError> {
    let control = Control {
        action: SelfAction::DestinationPaused,
        detail: None,
    };
    control
        .apply_any(&state, &key, origin, &id, true)
        .await
        .map(Json)
}

/// Resumes a paused destination (or a stopped stream): it delivers again from its checkpoint
/// at the next pass.
#[utoipa::path(post, path = "/v1/destinations/{id}/resume", tag = "destinations",
    security(("api_key" = ["admin"])),
    params(("id" = String, Path, description = "The destination's id (`dst_...`).")),
    responses(
        (status = 200, description = "Resumed; its status (a stream's, or an object store's).", body = ControlAnswer),
        (status = 400, description = "`invalid_id`: over 128 characters.", body = ErrorBody),
        KeyRefusals,
        (status = 404, description = "`destination_not_found`: none with this id for this tenant.", body = ErrorBody),
        StoreRefusal,
    ))]
pub async fn resume_destination(
    State(state): State<AppState>,
    key: ApiKey<Admin>,
    RequestOrigin(origin): RequestOrigin,
    PathId(id): PathId,
) -> Result<Json<ControlAnswer>, ApiError> {
    let control = Control {
        action: SelfAction::DestinationResumed,
        detail: None,
    };
    control
        .apply_any(&state, &key, origin, &id, false)
        .await
        .map(Json)
}

/// A stream delivers again every retained event received at or after `from`: the checkpoint
/// moves back (never forward), and receivers drop the repeats by event id. An object store gets
/// a replay set: a new destination writing its events from `from` again under
/// `{prefix}_replay/{id}/`, never touching an original object (docs/export.md, Replay sets).
#[utoipa::path(post, path = "/v1/destinations/{id}/replay", tag = "destinations",
    security(("api_key" = ["admin"])),
    params(("id" = String, Path, description = "The destination's id (`dst_...`).")),
    request_body(content = Replay, content_type = "application/json"),
    responses(
        (status = 200, description = "A stream replaying; its status.", body = StreamStatus),
        (status = 201, description = "An object store's replay set, added.", body = DestinationView),
        JsonBodyRefusals,
        KeyRefusals,
        (status = 404, description = "`destination_not_found`: none with this id for this tenant.", body = ErrorBody),
        (status = 409, description = "`cannot_replay`: the destination is itself a replay set.", body = ErrorBody),
        (status = 422, description = "`invalid_replay`: `details` names `/from` (not a time; or for an object store, nothing delivered yet, or `from` past what was delivered).", body = ErrorBody),
        StoreRefusal,
    ))]
pub async fn replay_stream(
    State(state): State<AppState>,
    key: ApiKey<Admin>,
    RequestOrigin(origin): RequestOrigin,
    PathId(id): PathId,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let replay: Replay = read_json_body(&headers, body, MAX_REPLAY_BODY, "a replay object").await?;
    let from: Timestamp = parse_rfc3339(&replay.from).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_replay",
            "the replay is not valid; see details",
        )
        .with_details(
            json!([{"pointer": "/from", "message": format!("must be an RFC 3339 time: {e}")}]),
        )
    })?;
    let destination = owned(&state, key.tenant(), &id).await?;
    if destination.target.is_object_store() {
        let view = add_replay_set(&state, &key, origin, &destination, from).await?;
        return Ok((StatusCode::CREATED, Json(view)).into_response());
    }
    let control = Control {
        action: SelfAction::DestinationReplayed,
        detail: Some(("from", from.to_rfc3339())),
    };
    control
        .apply(&state, &key, origin, &id, |s| delivery::replay(s, from))
        .await
        .map(|status| Json(status).into_response())
}
