//! A stream's status, as `GET /v1/destinations/{id}/stream` and `auditlog streams status` show
//! it: the stored state, with the backlog read from the store now (`auditlog_core::stream::status`
//! says what each part means).

use auditlog_core::Timestamp;
use auditlog_core::cursor;
use auditlog_core::export::Destination;
use auditlog_core::query::{EventQuery, Order};
use auditlog_core::store::{ExportStore, PageRequest, StoreError, StoredEvent};
use auditlog_core::stream::delivery::Position;
use auditlog_core::stream::status::{StreamStatus, status};

use crate::engine::BACKLOG_COUNT_CAP;

/// Events read from the store at a time.
const PAGE: usize = 1000;

/// Reads the state and the backlog of a stream destination as of `now`. Every event after the
/// checkpoint is backlog, the settling ones included: they are waiting too.
pub async fn stream_status(
    store: &dyn ExportStore,
    destination: &Destination,
    retention_ms: i64,
    now: Timestamp,
) -> Result<StreamStatus, StoreError> {
    let state = store.stream_state(&destination.id).await?;
    let mut from: Option<Position> = state.position.clone();
    let mut oldest = None;
    let mut events = 0u64;
    loop {
        let page = read_page(store, &destination.tenant, from.as_ref(), now).await?;
        if oldest.is_none() {
            oldest = page.first().map(|row| row.position.received_at);
        }
        events += page.len() as u64;
        match page.last() {
            Some(last) if events < BACKLOG_COUNT_CAP => {
                from = Some(Position {
                    received_at: last.position.received_at,
                    id: Some(last.position.id.clone()),
                });
            }
            _ => break,
        }
    }
    let pending = oldest.map(|at| {
        (
            at,
            events.min(BACKLOG_COUNT_CAP),
            events >= BACKLOG_COUNT_CAP,
        )
    });
    Ok(status(&state, pending, retention_ms, now))
}

/// Up to [`PAGE`] events after `from`, received before `until`, in receive order.
pub(crate) async fn read_page(
    store: &dyn ExportStore,
    tenant: &str,
    from: Option<&Position>,
    until: Timestamp,
) -> Result<Vec<StoredEvent>, StoreError> {
    let query = EventQuery {
        from: from.map(|p| p.received_at),
        to: Some(until),
        limit: PAGE,
        order: Order::Asc,
        ..EventQuery::default()
    };
    let after = from.and_then(|p| {
        p.id.as_ref().map(|id| cursor::Position {
            received_at: p.received_at,
            id: id.clone(),
        })
    });
    let mut rows = store
        .query_events(PageRequest {
            tenant,
            query: &query,
            after: after.as_ref(),
            now: until,
        })
        .await?;
    rows.truncate(PAGE);
    Ok(rows)
}
