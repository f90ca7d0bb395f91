//! Admin routes for a tenant's export destinations (keys with the `admin` scope). The tenant is
//! always the key's; a destination of another tenant answers 404, as if it did not exist.
//!
//! Only S3 destinations can be added over HTTP: a local directory is a path on the server,
//! which only the operator (`auditlog destinations add --dir`) may choose.

use auditlog_core::export::{
    DEFAULT_PREFIX, Destination, S3Target, Target, check_s3_target, normalize_prefix,
};
use auditlog_core::keys::Scope;
use axum::Extension;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::authorize;
use crate::error::ApiError;
use crate::handlers::{read_body, store_unavailable, with_tenant};
use crate::request_log::RequestId;

/// Largest `POST /v1/destinations` body.
const MAX_DESTINATION_BODY: usize = 16 * 1024;

/// The body of `POST /v1/destinations`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewS3Destination {
    bucket: String,
    region: Option<String>,
    prefix: Option<String>,
    role_arn: Option<String>,
    external_id: Option<String>,
    kms_key_id: Option<String>,
    expected_bucket_owner: Option<String>,
}

/// A destination as the API shows it.
pub fn destination_json(destination: &Destination) -> Value {
    let mut value = json!({
        "id": destination.id,
        "tenant": destination.tenant,
        "created_at": destination.created_at.to_rfc3339(),
    });
    match &destination.target {
        Target::S3(s3) => {
            value["kind"] = json!("s3");
            value["s3"] = json!(s3);
        }
        Target::Directory { path, prefix } => {
            value["kind"] = json!("directory");
            value["directory"] = json!({"path": path, "prefix": prefix});
        }
    }
    value
}

fn invalid(details: Value) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_destination",
        "the destination is not valid; see details",
    )
    .with_details(details)
}

/// Parses and checks a new S3 destination: every problem is named by JSON pointer.
fn parse_new_destination(bytes: &[u8]) -> Result<S3Target, ApiError> {
    let body: NewS3Destination = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("the body is not a destination object: {e}"),
        )
    })?;
    let target = S3Target {
        bucket: body.bucket,
        region: body.region,
        prefix: body.prefix.unwrap_or_else(|| DEFAULT_PREFIX.to_string()),
        role_arn: body.role_arn,
        external_id: body.external_id,
        kms_key_id: body.kms_key_id,
        expected_bucket_owner: body.expected_bucket_owner,
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
        .map_err(|m| invalid(json!([{"pointer": "/prefix", "message": m}])))?;
    Ok(S3Target { prefix, ..target })
}

/// The tenant's destination `id`, or 404.
async fn owned(state: &AppState, tenant: &str, id: &str) -> Result<Destination, ApiError> {
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

async fn admin(state: &AppState, headers: &HeaderMap, rid: &RequestId) -> Result<String, Response> {
    authorize(state, headers, Scope::Admin)
        .await
        .map(|key| key.tenant)
        .map_err(|e| e.for_request(&rid.0).into_response())
}

fn finish(result: Result<Response, ApiError>, rid: &RequestId, tenant: &str) -> Response {
    let response = result.unwrap_or_else(|e| e.for_request(&rid.0).into_response());
    with_tenant(response, tenant)
}

pub async fn list_destinations(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
) -> Response {
    let tenant = match admin(&state, &headers, &rid).await {
        Ok(t) => t,
        Err(response) => return response,
    };
    let result = state
        .store
        .list_destinations(Some(&tenant))
        .await
        .map_err(store_unavailable)
        .map(|list| {
            let items: Vec<Value> = list.iter().map(destination_json).collect();
            Json(json!({"destinations": items})).into_response()
        });
    finish(result, &rid, &tenant)
}

pub async fn add_destination(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let tenant = match admin(&state, &headers, &rid).await {
        Ok(t) => t,
        Err(response) => return response,
    };
    let result = async {
        let bytes = read_body(body, MAX_DESTINATION_BODY).await?;
        let target = parse_new_destination(&bytes)?;
        let destination = Destination {
            id: new_destination_id(),
            tenant: tenant.clone(),
            target: Target::S3(target),
            created_at: (state.clock)(),
        };
        state
            .store
            .add_destination(&destination)
            .await
            .map_err(store_unavailable)?;
        tracing::info!(destination = %destination.id, "destination added");
        Ok((StatusCode::CREATED, Json(destination_json(&destination))).into_response())
    }
    .await;
    finish(result, &rid, &tenant)
}

pub async fn remove_destination(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let tenant = match admin(&state, &headers, &rid).await {
        Ok(t) => t,
        Err(response) => return response,
    };
    let result = async {
        let destination = owned(&state, &tenant, &id).await?;
        state
            .store
            .remove_destination(&destination.id)
            .await
            .map_err(store_unavailable)?;
        Ok(StatusCode::NO_CONTENT.into_response())
    }
    .await;
    finish(result, &rid, &tenant)
}

pub async fn destination_status(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let tenant = match admin(&state, &headers, &rid).await {
        Ok(t) => t,
        Err(response) => return response,
    };
    let result = async {
        let destination = owned(&state, &tenant, &id).await?;
        let store: &dyn auditlog_core::store::ExportStore = state.store.as_ref();
        let status = auditlog_export::destination_status(store, &destination, (state.clock)())
            .await
            .map_err(store_unavailable)?;
        Ok(Json(status).into_response())
    }
    .await;
    finish(result, &rid, &tenant)
}

/// `dst_` and a lowercase ULID: unique, and sortable by creation.
pub fn new_destination_id() -> String {
    format!("dst_{}", ulid::Ulid::new().to_string().to_lowercase())
}
