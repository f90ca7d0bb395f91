//! What is waiting to be exported: the backlog `status` shows and the age the export function
//! publishes for its alarm; and the store reads the pass shares with them (one page of a
//! tenant's events in receive order).

use auditlog_core::Timestamp;
use auditlog_core::cursor::Position;
use auditlog_core::export::{Destination, ExportState};
use auditlog_core::query::{EventQuery, Order};
use auditlog_core::store::{ExportStore, PageRequest, StoreError, StoredEvent};

/// Events read per store page while streaming a window or counting a backlog.
pub(crate) const PAGE: usize = 1000;
/// Backlog counts stop here ("10000 or more").
pub const BACKLOG_COUNT_CAP: u64 = 10_000;

/// Receive time of the oldest event not yet exported to `destination` (one small read): what
/// the export function publishes for the backlog-age alarm.
pub async fn oldest_unexported(
    store: &dyn ExportStore,
    destination: &Destination,
    now: Timestamp,
) -> Result<Option<Timestamp>, StoreError> {
    let state = store.export_state(&destination.id).await?;
    let (from, to) = destination.unexported(&state, None);
    let first = first_event_at_or_after(store, &destination.tenant, from, now).await?;
    Ok(first
        .map(|p| p.received_at)
        .filter(|at| to.is_none_or(|to| *at < to)))
}

pub(crate) async fn first_event_at_or_after(
    store: &dyn ExportStore,
    tenant: &str,
    from: Option<Timestamp>,
    now: Timestamp,
) -> Result<Option<Position>, StoreError> {
    let query = EventQuery {
        from,
        limit: 1,
        order: Order::Asc,
        ..EventQuery::default()
    };
    let rows = page(store, tenant, &query, None, now).await?;
    Ok(rows.into_iter().next().map(|row| row.position))
}

/// One page of a tenant's events in receive order, after `after`.
pub(crate) async fn page(
    store: &dyn ExportStore,
    tenant: &str,
    query: &EventQuery,
    after: Option<&Position>,
    now: Timestamp,
) -> Result<Vec<StoredEvent>, StoreError> {
    store
        .query_events(PageRequest {
            tenant,
            query,
            after,
            now,
        })
        .await
}

/// What `status` reports beside the stored state: how much is waiting, and since when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backlog {
    /// Events not yet exported, counted up to [`BACKLOG_COUNT_CAP`].
    pub events: u64,
    pub capped: bool,
    /// Receive time of the oldest event not yet exported.
    pub oldest_unexported: Option<Timestamp>,
}

pub async fn backlog(
    store: &dyn ExportStore,
    destination: &Destination,
    state: &ExportState,
    now: Timestamp,
) -> Result<Backlog, StoreError> {
    let (from, to) = destination.unexported(state, None);
    let query = EventQuery {
        from,
        to,
        limit: PAGE,
        order: Order::Asc,
        ..EventQuery::default()
    };
    let mut after: Option<Position> = None;
    let mut oldest = None;
    let mut events = 0u64;
    loop {
        let rows = page(store, &destination.tenant, &query, after.as_ref(), now).await?;
        if oldest.is_none() {
            oldest = rows.first().map(|r| r.position.received_at);
        }
        events += rows.len() as u64;
        if rows.len() < PAGE || events >= BACKLOG_COUNT_CAP {
            return Ok(Backlog {
                events: events.min(BACKLOG_COUNT_CAP),
                capped: events >= BACKLOG_COUNT_CAP,
                oldest_unexported: oldest,
            });
        }
        after = rows.last().map(|r| r.position.clone());
    }
}
