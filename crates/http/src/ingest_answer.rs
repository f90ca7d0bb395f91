//! The answer to `POST /v1/events`: the validated items are stored, and every item of the
//! request gets its outcome, in request order.

use auditlog_core::Timestamp;
use auditlog_core::ingest::PreparedItem;
use auditlog_core::integrity::receipt;
use auditlog_core::store::{AppendStatus, NewEvent};
use auditlog_core::validate::{FieldError, MAX_ID_CHARS};
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;

/// What became of one item of the request.
#[derive(Serialize, ToSchema, PartialEq, Eq, Clone, Copy, Debug)]
#[serde(rename_all = "lowercase")]
pub enum ItemStatus {
    /// Stored now, durably.
    Accepted,
    /// An event with this id is already stored for the tenant; nothing new was stored.
    Duplicate,
    /// Invalid; `errors` lists every problem with its JSON pointer.
    Rejected,
    /// Valid but not stored (the store failed); `message` says why; resending is safe.
    Failed,
}

#[derive(Serialize, ToSchema)]
pub struct ItemResult {
    /// The item's position in the request, from 0.
    index: usize,
    /// The event's id (the client's, or the one assigned); null for a rejected item without a
    /// usable id.
    id: Option<String>,
    status: ItemStatus,
    /// The receipt of an accepted event: SHA-256 of its canonical stored form, which its line
    /// in every export carries too (docs/integrity.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
    /// How many values were masked in this event.
    #[serde(skip_serializing_if = "is_zero")]
    redacted: usize,
    /// Every problem of a rejected item, each named by JSON pointer.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<FieldError>,
    /// Why a `failed` item was not stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[derive(Serialize, ToSchema)]
pub struct IngestSummary {
    request_id: String,
    accepted: usize,
    duplicate: usize,
    rejected: usize,
    failed: usize,
    /// Values masked across the accepted events.
    redacted: usize,
    items: Vec<ItemResult>,
}

impl IngestSummary {
    /// 201 everything stored, 207 some stored, 503 none stored because the store failed, 422
    /// none stored because every item was invalid.
    pub fn status(&self) -> StatusCode {
        let stored = self.accepted + self.duplicate;
        if self.rejected == 0 && self.failed == 0 {
            StatusCode::CREATED
        } else if stored > 0 {
            StatusCode::MULTI_STATUS
        } else if self.failed > 0 {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        }
    }
}

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
    let mut summary = IngestSummary {
        request_id: crate::request_log::current_request_id(),
        accepted: 0,
        duplicate: 0,
        rejected: 0,
        failed: 0,
        redacted: 0,
        items: Vec::with_capacity(prepared.len()),
    };
    for (index, item) in prepared.into_iter().enumerate() {
        match item {
            PreparedItem::Valid(p) => {
                let sha256 = match receipt(&p.json) {
                    Ok(sha256) => Some(sha256),
                    Err(e) => {
                        tracing::error!(error = %e, "no receipt for a validated event");
                        None
                    }
                };
                summary.items.push(ItemResult {
                    index,
                    id: Some(p.event.id.clone()),
                    status: ItemStatus::Accepted,
                    sha256,
                    redacted: p.redacted,
                    errors: Vec::new(),
                    message: None,
                });
                positions.push(index);
                events.push(NewEvent {
                    event: p.event,
                    json: p.json,
                    expires_at,
                });
            }
            PreparedItem::Rejected { id, errors } => {
                summary.rejected += 1;
                summary.items.push(ItemResult {
                    index,
                    id: id.filter(|i| i.chars().count() <= MAX_ID_CHARS),
                    status: ItemStatus::Rejected,
                    sha256: None,
                    redacted: 0,
                    errors,
                    message: None,
                });
            }
        }
    }
    if !events.is_empty() {
        let statuses = append(state, tenant, &events, now).await;
        for (index, status) in positions.into_iter().zip(statuses) {
            record_status(&mut summary, index, status);
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

fn record_status(summary: &mut IngestSummary, index: usize, status: AppendStatus) {
    let item = &mut summary.items[index];
    match status {
        AppendStatus::Stored => {
            summary.accepted += 1;
            summary.redacted += item.redacted;
        }
        AppendStatus::Duplicate => {
            // The receipt was given when the event was first accepted; this copy was not
            // stored and may differ from it.
            item.status = ItemStatus::Duplicate;
            item.sha256 = None;
            item.redacted = 0;
            summary.duplicate += 1;
        }
        AppendStatus::Failed(message) => {
            item.status = ItemStatus::Failed;
            item.sha256 = None;
            item.redacted = 0;
            item.message = Some(message);
            summary.failed += 1;
        }
    }
}
