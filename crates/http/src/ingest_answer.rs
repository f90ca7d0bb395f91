//! The answer to `POST /v1/events`: the validated items are stored, and every item of the
//! request gets its outcome, in request order.

use auditlog_core::Timestamp;
use auditlog_core::ingest::PreparedItem;
use auditlog_core::store::{AppendStatus, NewEvent};
use utoipa::ToSchema;

use crate::AppState;

pub(crate) use auditlog_core::ingest_answer::IngestSummary;
use auditlog_core::ingest_answer::ItemResult;

/// The `503` of `POST /v1/events`, for the OpenAPI document: the items' answer when the store
/// failed while storing them, or an error when it failed before (the key could not be checked).
#[derive(ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // a description only
pub enum IngestUnavailable {
    Items(IngestSummary),
    Refused(crate::error::ErrorBody),
}

/// Stores the valid items in one call and answers for every item.
pub async fn store_items(
    state: &AppState,
    tenant: &str,
    prepared: Vec<PreparedItem>,
    now: Timestamp,
) -> IngestSummary {
    let expires_at = Timestamp(now.0.saturating_add(state.config.retention_ms));
    // Valid events and, beside them, their positions in the request (for the answer).
    let mut events = Vec::new();
    let mut positions = Vec::new();
    let mut summary = IngestSummary::new(crate::request_log::current_request_id(), prepared.len());
    for (index, item) in prepared.into_iter().enumerate() {
        match item {
            PreparedItem::Valid(p) => {
                summary.push(ItemResult::accepted(
                    index,
                    p.event.id.to_string(),
                    Some(p.receipt.clone()),
                    p.redacted,
                ));
                positions.push(index);
                events.push(NewEvent::prepared(p, expires_at));
            }
            PreparedItem::Rejected { id, errors } => {
                summary.push(ItemResult::rejected(index, id, errors));
            }
        }
    }
    if !events.is_empty() {
        let statuses = append(state, tenant, &events, now).await;
        for (index, status) in positions.into_iter().zip(statuses) {
            summary.record(index, status);
        }
    }
    summary
}

/// One status per event, whatever the store answers.
async fn append(
    state: &AppState,
    tenant: &str,
    events: &[NewEvent],
    now: Timestamp,
) -> Vec<AppendStatus> {
    match state.store.append_events(tenant, events, now).await {
        Ok(s) if s.len() == events.len() => s,
        Ok(_) => {
            tracing::error!("store answered a different number of statuses than events sent");
            vec![
                AppendStatus::Failed("the store gave no answer for this event".into());
                events.len()
            ]
        }
        Err(e) => {
            tracing::error!(error = %e, "append failed");
            vec![AppendStatus::Failed(format!("not stored: {e}; retrying is safe")); events.len()]
        }
    }
}
