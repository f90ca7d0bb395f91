//! A destination's health, as `GET /v1/destinations/{id}/status` and `auditlog destinations
//! status` report it: the stored export state, plus the backlog read from the store now.

use auditlog_core::Timestamp;
use auditlog_core::export::Destination;
use auditlog_core::store::{ExportStore, StoreError};
use serde::Serialize;

use crate::engine::backlog;

/// The status document (`docs/export.md` describes each field).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DestinationStatus {
    pub destination_id: String,
    pub tenant: String,
    /// False while the last attempt failed.
    pub healthy: bool,
    /// Paused by a person: nothing is written until it is resumed; the backlog grows.
    pub paused: bool,
    /// Every event received before this has been delivered.
    pub exported_through: Option<Timestamp>,
    pub last_success_at: Option<Timestamp>,
    pub last_error: Option<LastError>,
    pub objects_delivered: u64,
    pub events_delivered: u64,
    pub backlog: Backlog,
    pub digests: Digests,
    /// The exporter holding the destination now, if any.
    pub lease: Option<Lease>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LastError {
    pub at: Timestamp,
    /// What failed, with a hint where one is known.
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Backlog {
    /// Events waiting, counted up to a cap.
    pub events: u64,
    /// True when `events` stopped at the cap.
    pub capped: bool,
    pub oldest_unexported_at: Option<Timestamp>,
    pub oldest_unexported_age_seconds: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Digests {
    pub written: u64,
    pub last: Option<DigestRef>,
    pub next_period_start: Option<Timestamp>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DigestRef {
    pub key: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Lease {
    pub owner: String,
    pub until: Option<Timestamp>,
}

/// Reads the state and the backlog of `destination` as of `now`.
pub async fn destination_status(
    store: &dyn ExportStore,
    destination: &Destination,
    now: Timestamp,
) -> Result<DestinationStatus, StoreError> {
    let state = store.export_state(&destination.id).await?;
    let waiting = backlog(store, destination, &state, now).await?;
    let oldest_age = waiting
        .oldest_unexported
        .map(|t| ((now.0 - t.0).max(0)) / 1000);
    Ok(DestinationStatus {
        destination_id: destination.id.clone(),
        tenant: destination.tenant.clone(),
        healthy: state.last_error.is_none(),
        paused: state.paused,
        exported_through: state.exported_through,
        last_success_at: state.last_success_at,
        last_error: state.last_error.as_ref().map(|e| LastError {
            at: e.at,
            message: e.message.clone(),
        }),
        objects_delivered: state.objects_delivered,
        events_delivered: state.events_delivered,
        backlog: Backlog {
            events: waiting.events,
            capped: waiting.capped,
            oldest_unexported_at: waiting.oldest_unexported,
            oldest_unexported_age_seconds: oldest_age,
        },
        digests: Digests {
            written: state.digest.digests_written,
            last: state.digest.last.as_ref().map(|d| DigestRef {
                key: d.key.clone(),
                sha256: d.sha256.clone(),
            }),
            next_period_start: state.digest.period_start,
        },
        lease: state.lease_owner.as_ref().map(|owner| Lease {
            owner: owner.clone(),
            until: state.lease_until,
        }),
    })
}
