//! Bearer-key authentication, once per request, as an extractor: a handler that takes
//! `ApiKey<Read>` runs only for a valid, unrevoked key with the `read` scope, and gets the key's
//! record. The tenant of every operation comes from that record, never from the request.

use std::marker::PhantomData;

use auditlog_core::keys::{KeyRecord, Scope, key_id_of, key_matches};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::request_log::TenantSlot;

/// The scope a route needs, as a type.
pub trait RequiredScope: Send + Sync {
    const SCOPE: Scope;
}

/// Send events.
pub struct Write;
/// Query and fetch events.
pub struct Read;
/// The tenant's settings (destinations).
pub struct Admin;

impl RequiredScope for Write {
    const SCOPE: Scope = Scope::Write;
}
impl RequiredScope for Read {
    const SCOPE: Scope = Scope::Read;
}
impl RequiredScope for Admin {
    const SCOPE: Scope = Scope::Admin;
}

/// How the extractor refuses a key, for the OpenAPI document of every keyed operation.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // a description only: the answers are `ApiError`s
pub enum KeyRefusals {
    /// `missing_credentials` (no `Authorization` header; the answer carries
    /// `WWW-Authenticate: Bearer`) or `invalid_credentials` (not a bearer key of ours, unknown,
    /// wrong secret, or revoked).
    #[response(status = 401)]
    Unauthenticated(ErrorBody),
    /// `insufficient_scope`: the key lacks the scope the operation's security requirement names.
    #[response(status = 403)]
    Forbidden(ErrorBody),
}

/// An authenticated caller whose key grants `S`.
pub struct ApiKey<S> {
    pub record: KeyRecord,
    scope: PhantomData<S>,
}

impl<S> ApiKey<S> {
    pub fn tenant(&self) -> &str {
        &self.record.tenant
    }
}

impl<S: RequiredScope> FromRequestParts<AppState> for ApiKey<S> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let record = authorize(state, &parts.headers, S::SCOPE).await?;
        if let Some(slot) = parts.extensions.get::<TenantSlot>() {
            slot.record(&record.tenant);
        }
        Ok(ApiKey {
            record,
            scope: PhantomData,
        })
    }
}

/// Resolves the caller's key and checks it grants `scope`.
async fn authorize(
    state: &AppState,
    headers: &HeaderMap,
    scope: Scope,
) -> Result<KeyRecord, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing_credentials",
            "send an API key as `Authorization: Bearer <key>`",
        ));
    };
    let invalid = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "the API key is not valid",
        )
    };
    let text = value.to_str().map_err(|_| invalid())?;
    let (scheme, key) = text.trim().split_once(' ').ok_or_else(invalid)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(invalid());
    }
    let key = key.trim();
    let key_id = key_id_of(key).ok_or_else(invalid)?;
    let record = state
        .store
        .find_key(key_id)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "key lookup failed");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                "could not check the API key; retry",
            )
        })?
        .ok_or_else(invalid)?;
    if !key_matches(key, &record.hash) || record.revoked_at.is_some() {
        return Err(invalid());
    }
    if !record.allows(scope) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            format!("this API key lacks the `{}` scope", scope.as_str()),
        ));
    }
    Ok(record)
}
