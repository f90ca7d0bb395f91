//! Bearer-key authentication.

use auditlog_core::keys::{KeyRecord, Scope, key_id_of, key_matches};
use axum::http::{HeaderMap, StatusCode, header};

use crate::AppState;
use crate::error::ApiError;

/// Resolves the caller's key and checks it grants `scope`. The tenant of every operation comes
/// from the returned record, never from the request.
pub async fn authorize(
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
