//! The answer to `POST /v1/events`, as data: every item of the request gets its outcome, in
//! request order. The API builds it while storing; the edge builds the same answer for the items
//! it rejects itself and merges the origin's answer for the items it forwarded
//! ([`IngestSummary::merge_forwarded`]), so both give the same bytes for the same request.

use serde::{Deserialize, Serialize};

use crate::store::AppendStatus;
use crate::validate::{FieldError, MAX_ID_CHARS};

/// What became of one item of the request.
#[derive(Serialize, Deserialize, PartialEq, Eq, Clone, Copy, Debug)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ItemResult {
    /// The item's position in the request, from 0.
    pub index: usize,
    /// The event's id (the client's, or the one assigned); null for a rejected item without a
    /// usable id.
    pub id: Option<String>,
    pub status: ItemStatus,
    /// The receipt of an accepted event: SHA-256 of its canonical stored form, which its line
    /// in every export carries too (docs/integrity.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// How many values were masked in this event.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub redacted: usize,
    /// Every problem of a rejected item, each named by JSON pointer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Why a `failed` item was not stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl ItemResult {
    /// A valid item, accepted until the store says otherwise ([`IngestSummary::record`]).
    pub fn accepted(index: usize, id: String, sha256: Option<String>, redacted: usize) -> Self {
        ItemResult {
            index,
            id: Some(id),
            status: ItemStatus::Accepted,
            sha256,
            redacted,
            errors: Vec::new(),
            message: None,
        }
    }

    /// An invalid item; an id too long to be one is not echoed.
    pub fn rejected(index: usize, id: Option<String>, errors: Vec<FieldError>) -> Self {
        ItemResult {
            index,
            id: id.filter(|i| i.chars().count() <= MAX_ID_CHARS),
            status: ItemStatus::Rejected,
            sha256: None,
            redacted: 0,
            errors,
            message: None,
        }
    }
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IngestSummary {
    pub request_id: String,
    pub accepted: usize,
    pub duplicate: usize,
    pub rejected: usize,
    pub failed: usize,
    /// Values masked across the accepted events.
    pub redacted: usize,
    pub items: Vec<ItemResult>,
}

impl IngestSummary {
    pub fn new(request_id: String, capacity: usize) -> Self {
        IngestSummary {
            request_id,
            accepted: 0,
            duplicate: 0,
            rejected: 0,
            failed: 0,
            redacted: 0,
            items: Vec::with_capacity(capacity),
        }
    }

    /// Adds the next item; a rejected one is counted now, a valid one when [`Self::record`]
    /// gives its store outcome.
    pub fn push(&mut self, item: ItemResult) {
        if item.status == ItemStatus::Rejected {
            self.rejected += 1;
        }
        self.items.push(item);
    }

    /// 201 everything stored, 207 some stored, 503 none stored because the store failed, 422
    /// none stored because every item was invalid.
    pub fn status(&self) -> u16 {
        let stored = self.accepted + self.duplicate;
        if self.rejected == 0 && self.failed == 0 {
            201
        } else if stored > 0 {
            207
        } else if self.failed > 0 {
            503
        } else {
            422
        }
    }

    /// What the store did with the valid item at `position` in `items`. An index outside the
    /// answer is ignored (the caller only passes positions it pushed).
    pub fn record(&mut self, position: usize, status: AppendStatus) {
        let Some(item) = self.items.get_mut(position) else {
            return;
        };
        match status {
            AppendStatus::Stored => {
                self.accepted += 1;
                self.redacted += item.redacted;
            }
            AppendStatus::Duplicate => {
                // The receipt was given when the event was first accepted; this copy was not
                // stored and may differ from it.
                item.status = ItemStatus::Duplicate;
                item.sha256 = None;
                item.redacted = 0;
                self.duplicate += 1;
            }
            AppendStatus::Failed(message) => {
                item.status = ItemStatus::Failed;
                item.sha256 = None;
                item.redacted = 0;
                item.message = Some(message);
                self.failed += 1;
            }
        }
    }

    /// The answer to the whole request, from the origin's answer for the forwarded items.
    ///
    /// `self` holds the edge's own items: the rejected ones and, for each valid one, its id and
    /// how many values the edge masked. The origin answered for the valid ones alone, numbered
    /// from 0 in the order they were forwarded as `{"events": [...]}`. The origin masked nothing
    /// (the edge already had), so the counts of masked values are the edge's, as the API counts
    /// them: for stored items only. An item the origin rejected (its limits may be tighter) has
    /// its pointers moved from `/events/{j}` to where the item is in the client's request
    /// (`/events/{index}` in a batch, the root for a `single` event). `None` when the origin's
    /// answer does not fit the request (another number of items, or other ids): the caller then
    /// relays it unchanged.
    pub fn merge_forwarded(mut self, origin: IngestSummary, single: bool) -> Option<Self> {
        let valid: Vec<usize> = (0..self.items.len())
            .filter(|&i| self.items[i].status != ItemStatus::Rejected)
            .collect();
        if valid.len() != origin.items.len() {
            return None;
        }
        self.request_id = origin.request_id;
        for (j, (position, answered)) in valid.into_iter().zip(origin.items).enumerate() {
            let mine = &mut self.items[position];
            if mine.id != answered.id || answered.index != j {
                return None;
            }
            let status = match answered.status {
                ItemStatus::Accepted => AppendStatus::Stored,
                ItemStatus::Duplicate => AppendStatus::Duplicate,
                ItemStatus::Failed => AppendStatus::Failed(answered.message.unwrap_or_default()),
                ItemStatus::Rejected => {
                    let from = format!("/events/{j}");
                    let to = if single {
                        String::new()
                    } else {
                        format!("/events/{}", mine.index)
                    };
                    let errors = answered
                        .errors
                        .into_iter()
                        .map(|e| FieldError {
                            pointer: moved_pointer(&e.pointer, &from, &to),
                            message: e.message,
                        })
                        .collect();
                    *mine = ItemResult::rejected(mine.index, answered.id, errors);
                    self.rejected += 1;
                    continue;
                }
            };
            mine.sha256 = answered.sha256;
            self.record(position, status);
        }
        Some(self)
    }
}

/// `pointer` with its `from` prefix replaced by `to`; unchanged when it does not start there.
fn moved_pointer(pointer: &str, from: &str, to: &str) -> String {
    match pointer.strip_prefix(from) {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => format!("{to}{rest}"),
        _ => pointer.to_string(),
    }
}

#[cfg(test)]
mod tests;
