//! Admin routes for a tenant's export destinations (keys with the `admin` scope). The tenant is
//! always the key's; a destination of another tenant answers 404, as if it did not exist.
//!
//! Only S3 destinations can be added over HTTP: a local directory is a path on the server,
//! which only the operator (`auditlog destinations add --dir`) may choose.

use auditlog_core::Timestamp;
use auditlog_core::export::replay::Replay;
use auditlog_core::export::{
    AzureTarget, Compression, DEFAULT_PREFIX, Destination, GivenOptions, ObjectOptions, S3Target,
    Target, check_s3_target, normalize_prefix,
};
use auditlog_core::stream::filter::Filter;
use auditlog_core::stream::format::Format;
use auditlog_core::stream::ocsf::ClassRule;
use auditlog_core::stream::target::StreamSettings;
use auditlog_export::DestinationStatus;
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::{Admin, ApiKey, KeyRefusals};
use crate::error::{ApiError, ErrorBody, JsonBodyRefusals, StoreRefusal};
use crate::handlers::{PathId, read_json_body, store_unavailable};
use crate::self_audit::RequestOrigin;
use auditlog_core::self_audit::{SelfAction, SelfEvent};

mod azure_body;
mod replay_set;

pub(crate) use replay_set::add_replay_set;

pub use azure_body::{NewAzureBody, NewAzureDestination, tenant_secret_prefix};

/// Largest `POST /v1/destinations` body.
const MAX_DESTINATION_BODY: usize = 16 * 1024;

/// The body of `POST /v1/destinations`: an S3 bucket, written through a role in its owner's
/// account when `role_arn` is set.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewS3Destination {
    bucket: String,
    region: Option<String>,
    /// Object key prefix; default `user-events-audit/`.
    prefix: Option<String>,
    /// A role in the bucket owner's account; needs `external_id`.
    role_arn: Option<String>,
    external_id: Option<String>,
    /// SSE-KMS with this key; else the bucket's default encryption.
    kms_key_id: Option<String>,
    /// The 12-digit account that must own the bucket.
    expected_bucket_owner: Option<String>,
    /// How the objects are compressed: `gzip` (default) or `zstd` (`.ndjson.zst`, which Athena
    /// reads); fixed for the destination's life.
    #[allow(dead_code)] // read before the body, by pointer (`object_options`)
    compression: Option<Compression>,
    /// Only the events this filter admits are written (the others count as handled); fixed
    /// for the destination's life and declared in every object (docs/export.md, Filters).
    #[allow(dead_code)] // read before the body, by pointer (`object_options`)
    filter: Option<Filter>,
    /// Each line as `v1` (the stored event; default), `ocsf` or `ecs`, with the event's id and
    /// receipt beside a converted record; fixed for the destination's life.
    #[allow(dead_code)] // read before the body, by pointer (`object_options`)
    format: Option<Format>,
    /// OCSF class rules (longest action prefix wins), with `format: ocsf` only.
    #[allow(dead_code)] // read before the body, by pointer (`object_options`)
    ocsf_classes: Option<Vec<ClassRule>>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DestinationKind {
    S3,
    Azure,
    Directory,
    Stream,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DirectoryTarget {
    path: String,
    prefix: String,
}

/// A destination as the API (and `auditlog destinations`) shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DestinationView {
    id: String,
    tenant: String,
    created_at: Timestamp,
    kind: DestinationKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    s3: Option<S3Target>,
    /// The container, and where its credential lives (a reference; never the credential).
    #[serde(skip_serializing_if = "Option::is_none")]
    azure: Option<AzureTarget>,
    #[serde(skip_serializing_if = "Option::is_none")]
    directory: Option<DirectoryTarget>,
    /// A stream's target, format, filter and OCSF rules; secrets as references only.
    #[serde(skip_serializing_if = "Option::is_none")]
    stream: Option<StreamSettings>,
    /// An object store's compression (absent for a stream).
    #[serde(skip_serializing_if = "Option::is_none")]
    compression: Option<Compression>,
    /// An object store's filter, when it has one (a stream's is in `stream`).
    #[serde(skip_serializing_if = "Option::is_none")]
    filter: Option<Filter>,
    /// An object store's line format (a stream's is in `stream`).
    #[serde(skip_serializing_if = "Option::is_none")]
    format: Option<Format>,
    /// An object store's OCSF class rules, when it has any.
    #[serde(skip_serializing_if = "Option::is_none")]
    ocsf_classes: Option<Vec<ClassRule>>,
    /// A replay set's original and range (docs/export.md, Replay sets).
    #[serde(skip_serializing_if = "Option::is_none")]
    replay: Option<Replay>,
}

impl DestinationView {
    pub fn of(destination: &Destination) -> Self {
        let mut view = DestinationView {
            id: destination.id.clone(),
            tenant: destination.tenant.clone(),
            created_at: destination.created_at,
            kind: DestinationKind::Directory,
            s3: None,
            azure: None,
            directory: None,
            stream: None,
            compression: destination
                .target
                .is_object_store()
                .then_some(destination.compression),
            filter: destination.filter.clone(),
            format: destination
                .target
                .is_object_store()
                .then_some(destination.format),
            ocsf_classes: (!destination.ocsf_classes.is_default())
                .then(|| destination.ocsf_classes.classes.clone()),
            replay: destination.replay.clone(),
        };
        match &destination.target {
            Target::S3(s3) => {
                view.kind = DestinationKind::S3;
                view.s3 = Some(s3.clone());
            }
            Target::Azure(azure) => {
                view.kind = DestinationKind::Azure;
                view.azure = Some(azure.clone());
            }
            Target::Directory { path, prefix } => {
                view.directory = Some(DirectoryTarget {
                    path: path.clone(),
                    prefix: prefix.clone(),
                });
            }
            Target::Stream(settings) => {
                view.kind = DestinationKind::Stream;
                view.stream = Some(settings.as_ref().clone());
            }
        }
        view
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DestinationList {
    destinations: Vec<DestinationView>,
}

impl DestinationList {
    pub fn of(destinations: &[Destination]) -> Self {
        DestinationList {
            destinations: destinations.iter().map(DestinationView::of).collect(),
        }
    }
}

fn invalid(details: Value) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_destination",
        "the destination is not valid; see details",
    )
    .with_details(details)
}

/// The body of `POST /v1/destinations`: an S3 bucket, or `{"azure": {...}}`.
#[derive(ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // a description only: the body is read by `target_of_body`
pub enum NewDestination {
    S3(NewS3Destination),
    Azure(NewAzureBody),
}

fn from_object<T: serde::de::DeserializeOwned>(
    body: serde_json::Map<String, Value>,
) -> Result<T, ApiError> {
    serde_json::from_value(Value::Object(body)).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("the body is not a destination object: {e}"),
        )
    })
}

/// `compression`, `filter`, `format` and `ocsf_classes`, checked before the body is read as a
/// target, so that each problem is named by its pointer rather than as a malformed body.
fn object_options(body: &serde_json::Map<String, Value>) -> Result<ObjectOptions, ApiError> {
    ObjectOptions::read(GivenOptions::of(body), "").map_err(|errors| {
        let problems: Vec<Value> = errors
            .iter()
            .map(|e| json!({"pointer": e.pointer, "message": e.message}))
            .collect();
        invalid(json!(problems))
    })
}

/// The target a `POST /v1/destinations` body names for `tenant`, and its options; every
/// problem by pointer.
fn target_of_body(
    tenant: &str,
    body: serde_json::Map<String, Value>,
) -> Result<(Target, ObjectOptions), ApiError> {
    let options = object_options(&body)?;
    if body.contains_key("azure") {
        let azure: NewAzureBody = from_object(body)?;
        return azure_body::azure_target_of(tenant, azure)
            .map(|target| (Target::Azure(target), options))
            .map_err(|problems| invalid(json!(problems)));
    }
    check_new_destination(from_object(body)?).map(|target| (Target::S3(target), options))
}

/// Checks a new S3 destination: every problem is named by JSON pointer.
fn check_new_destination(body: NewS3Destination) -> Result<S3Target, ApiError> {
    let target = S3Target {
        bucket: body.bucket,
        region: body.region,
        prefix: body.prefix.unwrap_or_else(|| DEFAULT_PREFIX.to_string()),
        role_arn: body.role_arn,
        external_id: body.external_id,
        kms_key_id: body.kms_key_id,
        expected_bucket_owner: body.expected_bucket_owner,
        compatible: None,
    };
    let problems = check_s3_target(&target);
    if !problems.is_empty() {
        let details: Vec<Value> = problems
            .into_iter()
            .map(|(pointer, message)| json!({"pointer": pointer, "message": message}))
            .collect();
        return Err(invalid(json!(details)));
    }
    let prefix = normalize_prefix(&target.prefix)
        .map_err(|m| invalid(json!([{"pointer": "/prefix", "message": m.to_string()}])))?;
    Ok(S3Target { prefix, ..target })
}

/// The tenant's destination `id`, or 404.
pub(crate) async fn owned(
    state: &AppState,
    tenant: &str,
    id: &str,
) -> Result<Destination, ApiError> {
    let destinations = state
        .store
        .list_destinations(Some(tenant))
        .await
        .map_err(store_unavailable)?;
    destinations
        .into_iter()
        .find(|d| d.id == id)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "destination_not_found",
                "no destination with this id for this tenant",
            )
        })
}

/// The tenant's export destinations.
#[utoipa::path(get, path = "/v1/destinations", tag = "destinations",
    security(("api_key" = ["admin"])),
    responses(
        (status = 200, description = "Every destination of the tenant.", body = DestinationList),
        KeyRefusals,
        StoreRefusal,
    ))]
pub async fn list_destinations(
    State(state): State<AppState>,
    key: ApiKey<Admin>,
) -> Result<Json<DestinationList>, ApiError> {
    let list = state
        .store
        .list_destinations(Some(key.tenant()))
        .await
        .map_err(store_unavailable)?;
    Ok(Json(DestinationList::of(&list)))
}

/// Adds an S3 or an Azure Blob Storage destination (docs/export.md). A local directory cannot be
/// named over HTTP, and an Azure credential only as the exporter's environment variable set for
/// this tenant (`AUDITLOG_TENANT_{TENANT}_...`).
#[utoipa::path(post, path = "/v1/destinations", tag = "destinations",
    security(("api_key" = ["admin"])),
    request_body(content = NewDestination, content_type = "application/json"),
    responses(
        (status = 201, description = "Added.", body = DestinationView),
        JsonBodyRefusals,
        KeyRefusals,
        (status = 422, description = "`invalid_destination`: `details` holds one `{pointer, message}` per problem.", body = ErrorBody),
        StoreRefusal,
    ))]
pub async fn add_destination(
    State(state): State<AppState>,
    key: ApiKey<Admin>,
    RequestOrigin(origin): RequestOrigin,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<DestinationView>), ApiError> {
    let body: serde_json::Map<String, Value> =
        read_json_body(&headers, body, MAX_DESTINATION_BODY, "a destination object").await?;
    let (target, options) = target_of_body(key.tenant(), body)?;
    let view = store_new(&state, &key, origin, target, options).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Stores a new destination of the key's tenant with its self-audit record.
pub(crate) async fn store_new(
    state: &AppState,
    key: &ApiKey<Admin>,
    origin: auditlog_core::self_audit::Origin,
    target: Target,
    options: ObjectOptions,
) -> Result<DestinationView, ApiError> {
    let destination = Destination::new(
        new_destination_id(),
        key.tenant().to_string(),
        target,
        (state.clock)(),
    )
    .with_options(options);
    let record = state.self_event(
        key.tenant(),
        SelfEvent::new(SelfAction::DestinationAdded, key.caller())
            .destination(&destination)
            .origin(origin),
    );
    state
        .store
        .add_destination(&destination, &record)
        .await
        .map_err(store_unavailable)?;
    tracing::info!(destination = %destination.id, kind = destination.target.kind(), "destination added");
    Ok(DestinationView::of(&destination))
}

/// Removes a destination; its export state is kept for the record.
#[utoipa::path(delete, path = "/v1/destinations/{id}", tag = "destinations",
    security(("api_key" = ["admin"])),
    params(("id" = String, Path, description = "The destination's id (`dst_...`).")),
    responses(
        (status = 204, description = "Removed."),
        (status = 400, description = "`invalid_id`: over 128 characters.", body = ErrorBody),
        KeyRefusals,
        (status = 404, description = "`destination_not_found`: none with this id for this tenant.", body = ErrorBody),
        StoreRefusal,
    ))]
pub async fn remove_destination(
    State(state): State<AppState>,
    key: ApiKey<Admin>,
    RequestOrigin(origin): RequestOrigin,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    let destination = owned(&state, key.tenant(), &id).await?;
    let record = state.self_event(
        key.tenant(),
        SelfEvent::new(SelfAction::DestinationRemoved, key.caller())
            .destination(&destination)
            .origin(origin),
    );
    // A concurrent removal got there first: the destination is gone either way, and that
    // removal carries the record.
    state
        .store
        .remove_destination(&destination.id, &record)
        .await
        .map_err(store_unavailable)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Last success, last error, delivered counts, backlog and digests of a destination.
#[utoipa::path(get, path = "/v1/destinations/{id}/status", tag = "destinations",
    security(("api_key" = ["admin"])),
    params(("id" = String, Path, description = "The destination's id (`dst_...`).")),
    responses(
        (status = 200, description = "The destination's status (docs/export.md).", body = DestinationStatus),
        (status = 400, description = "`invalid_id`: over 128 characters.", body = ErrorBody),
        KeyRefusals,
        (status = 404, description = "`destination_not_found`: none with this id for this tenant.", body = ErrorBody),
        StoreRefusal,
    ))]
pub async fn destination_status(
    State(state): State<AppState>,
    key: ApiKey<Admin>,
    PathId(id): PathId,
) -> Result<Json<DestinationStatus>, ApiError> {
    let destination = owned(&state, key.tenant(), &id).await?;
    let store: &dyn auditlog_core::store::ExportStore = state.store.as_ref();
    let status = auditlog_export::destination_status(store, &destination, (state.clock)())
        .await
        .map_err(store_unavailable)?;
    Ok(Json(status))
}

/// `dst_` and a lowercase ULID: unique, and sortable by creation.
pub fn new_destination_id() -> String {
    format!("dst_{}", ulid::Ulid::new().to_string().to_lowercase())
}
