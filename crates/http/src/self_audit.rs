//! Recording the API's and the console's own use in the tenant's stream (`docs/self-audit.md`).
//!
//! Reads are recorded after the store answered (the record holds the count) and before the
//! caller gets the answer: when the record cannot be stored, the read is refused with
//! `503 audit_unavailable`, so no read goes unrecorded. Changes hand their record to the store,
//! which writes both in one transaction. Refusals are recorded on a best-effort basis: the
//! refusal stands whether or not its record could be stored.

use std::net::{IpAddr, SocketAddr};

use auditlog_core::Timestamp;
use auditlog_core::query::EventQuery;
use auditlog_core::self_audit::{Origin, SelfEvent};
use auditlog_core::store::{AppendStatus, NewEvent};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde_json::{Map, Value};

use crate::AppState;
use crate::error::ApiError;
use crate::request_log::RequestId;

/// The client's address, for hosts that know it other than by the TCP peer (the ingest
/// function puts API Gateway's `sourceIp` here).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub IpAddr);

/// Where a request came from: the connecting address (never `X-Forwarded-For`, which a client
/// can write), its `User-Agent` and our request id.
pub struct RequestOrigin(pub Origin);

impl<S: Send + Sync> FromRequestParts<S> for RequestOrigin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(RequestOrigin(origin_of(parts)))
    }
}

pub(crate) fn origin_of(parts: &Parts) -> Origin {
    let ip = parts
        .extensions
        .get::<ClientAddr>()
        .map(|a| a.0)
        .or_else(|| {
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip())
        });
    Origin {
        ip_address: ip.map(|ip| ip.to_canonical().to_string()),
        user_agent: parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        request_id: parts.extensions.get::<RequestId>().map(|r| r.0.clone()),
    }
}

/// A query's filters as a JSON object (`from`, `to` as epoch milliseconds), for a record.
pub(crate) fn filters_of(query: &EventQuery) -> Value {
    let filters: Map<String, Value> = query
        .to_pairs()
        .into_iter()
        .filter(|(name, _)| !matches!(*name, "limit" | "order"))
        .map(|(name, value)| (name.to_string(), Value::String(value)))
        .collect();
    Value::Object(filters)
}

/// Record ids from one monotonic generator: records made in the same millisecond (which the
/// stores order by id) keep the order in which this process made them.
static RECORD_IDS: std::sync::Mutex<ulid::Generator> =
    std::sync::Mutex::new(ulid::Generator::new());

fn record_id() -> String {
    let mut generator = RECORD_IDS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    generator
        .generate()
        .unwrap_or_else(|_| ulid::Ulid::new())
        .to_string()
}

impl AppState {
    /// The stored form of `record` for `tenant`, with a fresh id, at the service's clock.
    pub(crate) fn self_event(&self, tenant: &str, record: SelfEvent) -> NewEvent {
        record.into_event(
            tenant,
            record_id(),
            (self.clock)(),
            self.config.retention_ms,
        )
    }

    /// Stores `record`; the request it records is answered only when this succeeds.
    pub(crate) async fn record(&self, tenant: &str, record: SelfEvent) -> Result<(), ApiError> {
        self.record_after(tenant, record, Timestamp(i64::MIN)).await
    }

    /// [`AppState::record`], received no earlier than `earliest`: a record that must fall
    /// outside a view pinned to end there (a download's).
    pub(crate) async fn record_after(
        &self,
        tenant: &str,
        record: SelfEvent,
        earliest: Timestamp,
    ) -> Result<(), ApiError> {
        let now = (self.clock)().max(earliest);
        let event = record.into_event(tenant, record_id(), now, self.config.retention_ms);
        match self
            .store
            .append_events(tenant, std::slice::from_ref(&event), now)
            .await
        {
            Ok(statuses) if statuses == [AppendStatus::Stored] => Ok(()),
            Ok(statuses) => Err(unrecorded(format!("append answered {statuses:?}"))),
            Err(e) => Err(unrecorded(e)),
        }
    }

    /// Stores `record` if it can; a refusal it describes stands either way.
    pub(crate) async fn record_refusal(&self, tenant: &str, record: SelfEvent) {
        if let Err(e) = self.record(tenant, record).await {
            tracing::error!(error = %e.message, "a refusal could not be recorded");
        }
    }
}

/// The answer when a request's record could not be stored.
pub(crate) fn unrecorded(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "self-audit record not stored");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "audit_unavailable",
        "this request could not be recorded in the tenant's audit log, so it was not carried out; retrying is safe",
    )
}
