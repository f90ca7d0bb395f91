//! Admin routes for a tenant's API keys (keys with the `admin` scope): list them, make one,
//! revoke one. The tenant is always the calling key's; another tenant's key answers 404, as if
//! it did not exist. A new key is in the answer that makes it and nowhere else: only its hash is
//! stored, and the answer is marked `Cache-Control: no-store`.
//!
//! Each change is written with its self-audit record (`auditlog.key.created`,
//! `auditlog.key.revoked`, with the admin key as the actor), in one transaction.

use auditlog_core::Timestamp;
use auditlog_core::keys::{KeyRecord, Scope, check_label, issue_key};
use auditlog_core::self_audit::{key_created, key_revoked};
use auditlog_core::store::StoreError;
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::{Admin, ApiKey, KeyRefusals};
use crate::error::{ApiError, ErrorBody, JsonBodyRefusals, StoreRefusal};
use crate::handlers::{PathId, read_json_body, store_unavailable};
use crate::self_audit::RequestOrigin;

/// Largest `POST /v1/keys` body.
const MAX_KEY_BODY: usize = 4 * 1024;

/// The body of `POST /v1/keys`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// What the key may do: one to three of `write`, `read`, `admin`.
    #[schema(min_items = 1, max_items = 3, inline)]
    scopes: Vec<ScopeName>,
    /// A note to tell keys apart: 1 to 128 characters, no control characters.
    #[schema(min_length = 1, max_length = 128)]
    label: Option<String>,
}

/// A scope as the body names it; checked by hand, so an unknown one is named by pointer.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(value_type = Scope)]
#[serde(transparent)]
pub struct ScopeName(String);

/// A key as the API shows it: never the key, never its hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyView {
    /// 16 hex digits; not secret.
    key_id: String,
    scopes: Vec<Scope>,
    label: Option<String>,
    created_at: Timestamp,
    /// When it stopped working; null while it works.
    revoked_at: Option<Timestamp>,
}

impl KeyView {
    fn of(record: &KeyRecord) -> KeyView {
        KeyView {
            key_id: record.key_id.clone(),
            scopes: record.scopes.clone(),
            label: record.label.clone(),
            created_at: record.created_at,
            revoked_at: record.revoked_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyList {
    /// Oldest first.
    keys: Vec<KeyView>,
}

/// The answer that makes a key: the only place the key ever appears.
#[derive(Serialize, ToSchema)]
pub struct IssuedKeyView {
    /// The key itself (`alk_<key id>_<secret>`). Store it now: it is not kept and cannot be
    /// shown again.
    key: String,
    #[serde(flatten)]
    view: KeyView,
}

fn invalid(details: Vec<Value>) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_key_request",
        "the key request is not valid; see details",
    )
    .with_details(json!(details))
}

/// Checks a `POST /v1/keys` body: every problem is named by JSON pointer.
fn check_new_key(body: &NewKey) -> Result<Vec<Scope>, ApiError> {
    let mut problems = Vec::new();
    let mut scopes = Vec::new();
    if body.scopes.is_empty() || body.scopes.len() > 3 {
        problems
            .push(json!({"pointer": "/scopes", "message": "one to three of write, read, admin"}));
    }
    for (i, ScopeName(name)) in body.scopes.iter().enumerate() {
        match auditlog_core::keys::parse_scopes(name) {
            Ok(parsed) if parsed.len() == 1 && !name.contains(',') => scopes.extend(parsed),
            _ => problems.push(json!({"pointer": format!("/scopes/{i}"),
                "message": "a scope is one of write, read, admin"})),
        }
    }
    if let Some(label) = &body.label
        && let Err(message) = check_label(label)
    {
        problems.push(json!({"pointer": "/label", "message": message.to_string()}));
    }
    if !problems.is_empty() {
        return Err(invalid(problems));
    }
    scopes.sort();
    scopes.dedup();
    Ok(scopes)
}

/// The tenant's keys, oldest first, without their secrets or hashes.
#[utoipa::path(get, path = "/v1/keys", tag = "keys",
    security(("api_key" = ["admin"])),
    responses(
        (status = 200, description = "Every key of the tenant, revoked ones included.", body = KeyList),
        KeyRefusals,
        StoreRefusal,
    ))]
pub async fn list_keys(
    State(state): State<AppState>,
    key: ApiKey<Admin>,
) -> Result<Json<KeyList>, ApiError> {
    let keys = state
        .store
        .list_keys(Some(key.tenant()))
        .await
        .map_err(store_unavailable)?;
    Ok(Json(KeyList {
        keys: keys.iter().map(KeyView::of).collect(),
    }))
}

/// Makes a key for the caller's tenant and answers with it, once.
#[utoipa::path(post, path = "/v1/keys", tag = "keys",
    security(("api_key" = ["admin"])),
    request_body(content = NewKey, content_type = "application/json"),
    responses(
        (status = 201, description = "Made; `key` is shown this once (`Cache-Control: no-store`).", body = IssuedKeyView),
        JsonBodyRefusals,
        KeyRefusals,
        (status = 422, description = "`invalid_key_request`: `details` holds one `{pointer, message}` per problem.", body = ErrorBody),
        StoreRefusal,
    ))]
pub async fn create_key(
    State(state): State<AppState>,
    key: ApiKey<Admin>,
    RequestOrigin(origin): RequestOrigin,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let asked: NewKey = read_json_body(&headers, body, MAX_KEY_BODY, "a key request").await?;
    let scopes = check_new_key(&asked)?;
    // A key id collision (2^-64 per pair) is answered by trying fresh randomness.
    for _ in 0..3 {
        let issued = issue_key(rand::random(), rand::random());
        let record = KeyRecord {
            key_id: issued.key_id.clone(),
            tenant: key.tenant().to_string(),
            scopes: scopes.clone(),
            hash: issued.hash.clone(),
            label: asked.label.clone(),
            created_at: (state.clock)(),
            revoked_at: None,
        };
        let audit = state.self_event(
            key.tenant(),
            key_created(key.caller(), &record).origin(origin.clone()),
        );
        match state.store.create_key(&record, &audit).await {
            Ok(()) => {
                tracing::info!(key_id = %record.key_id, "key created");
                let answer = IssuedKeyView {
                    key: issued.key,
                    view: KeyView::of(&record),
                };
                let mut response = (StatusCode::CREATED, Json(answer)).into_response();
                response
                    .headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                return Ok(response);
            }
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(store_unavailable(e)),
        }
    }
    Err(store_unavailable("no unique key id after 3 tries"))
}

/// Revokes one of the tenant's keys; it stops working at once. Revoking a revoked key keeps
/// its first revocation time.
#[utoipa::path(delete, path = "/v1/keys/{id}", tag = "keys",
    security(("api_key" = ["admin"])),
    params(("id" = String, Path, description = "The key's id (16 hex digits).")),
    responses(
        (status = 204, description = "Revoked."),
        (status = 400, description = "`invalid_id`: over 128 characters.", body = ErrorBody),
        KeyRefusals,
        (status = 404, description = "`key_not_found`: none with this id for this tenant.", body = ErrorBody),
        StoreRefusal,
    ))]
pub async fn revoke_key(
    State(state): State<AppState>,
    key: ApiKey<Admin>,
    RequestOrigin(origin): RequestOrigin,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    let not_found = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "key_not_found",
            "no key with this id for this tenant",
        )
    };
    let target = state
        .store
        .find_key(&id)
        .await
        .map_err(store_unavailable)?
        .filter(|k| k.tenant == key.tenant())
        .ok_or_else(not_found)?;
    let audit = state.self_event(
        key.tenant(),
        key_revoked(key.caller(), &target).origin(origin),
    );
    if !state
        .store
        .revoke_key(&target.key_id, (state.clock)(), &audit)
        .await
        .map_err(store_unavailable)?
    {
        return Err(not_found());
    }
    tracing::info!(key_id = %target.key_id, "key revoked");
    Ok(StatusCode::NO_CONTENT)
}
