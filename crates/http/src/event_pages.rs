//! Reading a page of a tenant's events: the one implementation behind `GET /v1/events` and the
//! console's list. The store returns up to `limit + 1` rows; the page keeps at most `limit` and
//! at most the response-size budget, and a signed cursor names its last row.

use auditlog_core::cursor::{Position, decode_cursor, encode_cursor};
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
}

/// Reads the page of `query` after `cursor` (a cursor issued for the same tenant and query).
pub async fn read_page(
    state: &AppState,
    tenant: &str,
    query: &EventQuery,
    cursor: Option<&str>,
) -> Result<Page, ApiError> {
    let after: Option<Position> = match cursor {
        Some(text) => Some(
            decode_cursor(&state.config.cursor_key, tenant, query, text).map_err(|e| {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_cursor", e.to_string())
            })?,
        ),
        None => None,
    };
    let mut rows = state
        .store
        .query_events(PageRequest {
            tenant,
            query,
            after: after.as_ref(),
            now: (state.clock)(),
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
        (true, Some(last)) => Some(cursor_after(state, tenant, query, &last.position)),
        _ => None,
    };
    Ok(Page { rows, next_cursor })
}

/// A cursor for the rows strictly after `position` in `query`'s order.
pub fn cursor_after(
    state: &AppState,
    tenant: &str,
    query: &EventQuery,
    position: &Position,
) -> String {
    encode_cursor(&state.config.cursor_key, tenant, query, position)
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
