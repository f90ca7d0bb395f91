//! A destination's health, as `GET /v1/destinations/{id}/status` and `auditlog destinations
//! status` report it: the stored export state, plus the backlog read from the store now.

use auditlog_core::Timestamp;
use auditlog_core::export::Destination;
use auditlog_core::store::{ExportStore, StoreError};
use serde_json::{Value, json};

use crate::engine::backlog;

fn time(t: Option<Timestamp>) -> Value {
    t.map(|t| Value::String(t.to_rfc3339()))
        .unwrap_or(Value::Null)
}

/// The status document (`docs/export.md` describes each field).
pub async fn destination_status(
    store: &dyn ExportStore,
    destination: &Destination,
    now: Timestamp,
) -> Result<Value, StoreError> {
    let state = store.export_state(&destination.id).await?;
    let waiting = backlog(store, destination, &state, now).await?;
    let oldest_age = waiting
        .oldest_unexported
        .map(|t| ((now.0 - t.0).max(0)) / 1000);
    Ok(json!({
        "destination_id": destination.id,
        "tenant": destination.tenant,
        "healthy": state.last_error.is_none(),
        "exported_through": time(state.exported_through),
        "last_success_at": time(state.last_success_at),
        "last_error": state.last_error.as_ref().map(|e| json!({"at": e.at.to_rfc3339(), "message": e.message})),
        "objects_delivered": state.objects_delivered,
        "events_delivered": state.events_delivered,
        "backlog": {
            "events": waiting.events,
            "capped": waiting.capped,
            "oldest_unexported_at": time(waiting.oldest_unexported),
            "oldest_unexported_age_seconds": oldest_age,
        },
        "digests": {
            "written": state.digest.digests_written,
            "last": state.digest.last.as_ref().map(|d| json!({"key": d.key, "sha256": d.sha256})),
            "next_period_start": time(state.digest.period_start),
        },
        "lease": state.lease_owner.as_ref().map(|owner| json!({"owner": owner, "until": time(state.lease_until)})),
    }))
}
