//! Reading a page of a tenant's events: the one implementation behind `GET /v1/events` and the
//! console's list. The store returns up to `limit + 1` rows; the page keeps at most `limit` and
//! at most the response-size budget, and a signed cursor names its last row.
//!
//! A paging session is pinned: its first page reads the events received up to the moment it was
//! asked (`until`, exclusive, is that moment plus 1 ms), and its cursors carry that bound, so
//! every later page stays within it (see `auditlog_core::cursor`). The record of each page read
//! is stamped at or after the bound, so paging never runs into its own records.

use auditlog_core::Timestamp;
use auditlog_core::cursor::{Cursor, Position, decode_cursor, encode_cursor};
use auditlog_core::query::{EventQuery, Order};
use auditlog_core::store::{PageRequest, StoredEvent};
use axum::http::StatusCode;

use crate::AppState;
use crate::error::ApiError;
use crate::handlers::store_unavailable;

/// One page, in the query's order.
pub struct Page {
    pub rows: Vec<StoredEvent>,
    /// Continues after the last row, in the same order; `None` on the last page.
    pub next_cursor: Option<String>,
    /// The session's pinned end (exclusive): no page of it holds an event received at or after.
    pub until: Timestamp,
}

/// Reads the page of `query` after `cursor` (a cursor issued for the same tenant and query).
pub async fn read_page(
    state: &AppState,
    tenant: &str,
    query: &EventQuery,
    cursor: Option<&str>,
) -> Result<Page, ApiError> {
    let now = (state.clock)();
    let (after, until) = match cursor {
        Some(text) => {
            let decoded =
                decode_cursor(&state.config.cursor_key, tenant, query, text).map_err(|e| {
                    ApiError::new(StatusCode::BAD_REQUEST, "invalid_cursor", e.to_string())
                })?;
            // A cursor from before sessions were pinned pins itself now.
            let until = decoded.until.unwrap_or(Timestamp(now.0.saturating_add(1)));
            (Some(decoded.position), until)
        }
        None => (None, Timestamp(now.0.saturating_add(1))),
    };
    let pinned = EventQuery {
        to: Some(query.to.map_or(until, |to| to.min(until))),
        ..query.clone()
    };
    let mut rows = state
        .store
        .query_events(PageRequest {
            tenant,
            query: &pinned,
            after: after.as_ref(),
            now,
        })
        .await
        .map_err(store_unavailable)?;
    // A page holds at most `limit` events and at most `max_response_bytes` (the envelope and
    // cursor take well under 1 KB); it always holds one event, which is far smaller than that.
    let budget = state.config.max_response_bytes.saturating_sub(1024);
    let mut page_bytes = 0;
    let mut keep = 0;
    for row in rows.iter().take(query.limit) {
        if keep > 0 && page_bytes + row.json.len() + 1 > budget {
            break;
        }
        page_bytes += row.json.len() + 1;
        keep += 1;
    }
    let has_more = rows.len() > keep;
    rows.truncate(keep);
    let next_cursor = match (has_more, rows.last()) {
        (true, Some(last)) => Some(cursor_after(state, tenant, query, &last.position, until)),
        _ => None,
    };
    Ok(Page {
        rows,
        next_cursor,
        until,
    })
}

/// A cursor for the rows strictly after `position` in `query`'s order, in the session pinned
/// to end at `until`.
pub fn cursor_after(
    state: &AppState,
    tenant: &str,
    query: &EventQuery,
    position: &Position,
    until: Timestamp,
) -> String {
    let cursor = Cursor {
        position: position.clone(),
        until: Some(until),
    };
    encode_cursor(&state.config.cursor_key, tenant, query, &cursor)
}

/// The same filters in the other order: paging backwards is paging forwards in reverse.
pub fn reversed(query: &EventQuery) -> EventQuery {
    EventQuery {
        order: match query.order {
            Order::Asc => Order::Desc,
            Order::Desc => Order::Asc,
        },
        ..query.clone()
    }
}
