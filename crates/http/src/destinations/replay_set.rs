//! `POST /v1/destinations/{id}/replay` on an object store: a replay set, a new destination that
//! writes the original's events from `from` again under `{prefix}_replay/{id}/`, without
//! touching an original object (`auditlog_core::export::replay`). Recorded in the tenant's log
//! as `auditlog.destination.replayed`, with the original and the time.

use auditlog_core::Timestamp;
use auditlog_core::export::Destination;
use auditlog_core::export::replay::{ReplayError, replay_destination};
use auditlog_core::self_audit::{SelfAction, SelfEvent};
use axum::http::StatusCode;
use serde_json::json;

use super::{DestinationView, new_destination_id};
use crate::AppState;
use crate::auth::{Admin, ApiKey};
use crate::error::ApiError;
use crate::handlers::store_unavailable;

/// Adds the replay set of `original` from `from`; its view.
pub(crate) async fn add_replay_set(
    state: &AppState,
    key: &ApiKey<Admin>,
    origin: auditlog_core::self_audit::Origin,
    original: &Destination,
    from: Timestamp,
) -> Result<DestinationView, ApiError> {
    let original_state = state
        .store
        .export_state(&original.id)
        .await
        .map_err(store_unavailable)?;
    let set = replay_destination(
        original,
        &original_state,
        from,
        new_destination_id(),
        (state.clock)(),
    )
    .map_err(refusal)?;
    let record = state.self_event(
        key.tenant(),
        SelfEvent::new(SelfAction::DestinationReplayed, key.caller())
            .destination(&set)
            .detail("replay_of", original.id.clone())
            .detail("from", from.to_rfc3339())
            .origin(origin),
    );
    state
        .store
        .add_destination(&set, &record)
        .await
        .map_err(store_unavailable)?;
    tracing::info!(destination = %set.id, of = %original.id, "replay set added");
    Ok(DestinationView::of(&set))
}

fn refusal(error: ReplayError) -> ApiError {
    match error {
        ReplayError::Stream | ReplayError::OfReplay => {
            ApiError::new(StatusCode::CONFLICT, "cannot_replay", error.to_string())
        }
        ReplayError::NothingDelivered | ReplayError::FromTooLate { .. } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_replay",
            "the replay is not valid; see details",
        )
        .with_details(json!([{"pointer": "/from", "message": error.to_string()}])),
    }
}
