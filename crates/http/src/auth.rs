//! Bearer-key authentication, once per request, as an extractor: a handler that takes
//! `ApiKey<Read>` runs only for a valid, unrevoked key with the `read` scope, and gets the key's
//! record. The tenant of every operation comes from that record, never from the request.

use std::marker::PhantomData;

use auditlog_core::event::Outcome;
use auditlog_core::keys::{
    INVALID_CREDENTIALS, KeyRecord, MISSING_CREDENTIALS, Presented, Scope, key_matches,
    presented_key,
};
use auditlog_core::self_audit::{Caller, SelfAction, SelfEvent};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::request_log::TenantSlot;
use crate::self_audit::origin_of;

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

    /// The key as the actor of a self-audit record: its id, never the key.
    pub fn caller(&self) -> Caller {
        Caller::Key {
            key_id: self.record.key_id.clone(),
        }
    }
}

impl<S: RequiredScope> FromRequestParts<AppState> for ApiKey<S> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let record = authorize(state, parts, S::SCOPE).await?;
        if let Some(slot) = parts.extensions.get::<TenantSlot>() {
            slot.record(&record.tenant);
        }
        Ok(ApiKey {
            record,
            scope: PhantomData,
        })
    }
}

/// Resolves the caller's key and checks it grants `scope`. A refused key of a known tenant (its
/// secret right, but revoked or without the scope) is recorded in that tenant's log.
async fn authorize(state: &AppState, parts: &Parts, scope: Scope) -> Result<KeyRecord, ApiError> {
    let invalid = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            INVALID_CREDENTIALS,
        )
    };
    let header = parts
        .headers
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    let (key, key_id) = match presented_key(header) {
        Presented::Key { key, key_id } => (key, key_id),
        Presented::Malformed => return Err(invalid()),
        Presented::Missing => {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "missing_credentials",
                MISSING_CREDENTIALS,
            ));
        }
    };
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
    if !key_matches(key, &record.hash) {
        return Err(invalid());
    }
    if record.revoked_at.is_some() {
        record_refusal(state, parts, &record, "revoked_key", scope).await;
        return Err(invalid());
    }
    if !record.allows(scope) {
        record_refusal(state, parts, &record, "insufficient_scope", scope).await;
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            format!("this API key lacks the `{}` scope", scope.as_str()),
        ));
    }
    Ok(record)
}

/// Records a refused key of the tenant: which key, why, and what it asked for.
async fn record_refusal(
    state: &AppState,
    parts: &Parts,
    key: &KeyRecord,
    reason: &str,
    scope: Scope,
) {
    let path: String = parts.uri.path().chars().take(256).collect();
    let caller = Caller::Key {
        key_id: key.key_id.clone(),
    };
    let record = SelfEvent::new(SelfAction::AccessRefused, caller)
        .outcome(Outcome::Failure)
        .detail("reason", reason)
        .detail("required_scope", scope.as_str())
        .detail("method", parts.method.as_str())
        .detail("path", path)
        .origin(origin_of(parts));
    state.record_refusal(&key.tenant, record).await;
}
