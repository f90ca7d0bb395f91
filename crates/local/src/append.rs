//! Writing events: the rows of a batch, and a change written together with its self-audit
//! record in one transaction.

use auditlog_core::Timestamp;
use auditlog_core::store::{AppendStatus, NewEvent, StoreError};
use rusqlite::{Transaction, params};

use crate::{SqliteStore, unavailable};

/// The columns of one event row, extracted before entering the blocking pool.
pub(crate) struct EventRow {
    id: String,
    received_at: i64,
    expires_at: i64,
    action: String,
    actor_id: String,
    actor_email: Option<String>,
    outcome: &'static str,
    source_service: Option<String>,
    target_ids: Vec<String>,
    body: String,
    receipt: Option<String>,
}

impl From<&NewEvent> for EventRow {
    fn from(e: &NewEvent) -> Self {
        let ev = &e.event;
        EventRow {
            id: ev.id.to_string(),
            received_at: ev.received_at.0,
            expires_at: e.expires_at.0,
            action: ev.action.to_string(),
            actor_id: ev.actor.id.to_string(),
            actor_email: ev.actor.email.as_deref().map(str::to_string),
            outcome: ev.outcome.as_str(),
            source_service: ev
                .source
                .as_ref()
                .and_then(|s| s.service.as_deref().map(str::to_string)),
            target_ids: ev.targets.iter().map(|t| t.id.to_string()).collect(),
            body: e.json.clone(),
            receipt: e.receipt.clone(),
        }
    }
}

/// Inserts `rows` for `tenant` inside `tx`, keeping the first of any retained id.
pub(crate) fn insert_events(
    tx: &Transaction<'_>,
    tenant: &str,
    rows: &[EventRow],
    now: Timestamp,
) -> Result<Vec<AppendStatus>, StoreError> {
    // An expired event that retention has not purged yet is invisible, so its id is free
    // again: overwrite it instead of calling the new one a duplicate.
    let mut insert = tx
        .prepare_cached(
            "INSERT INTO events (tenant, id, received_at, expires_at, action, actor_id, actor_email,
                                 outcome, source_service, body, sha256)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?12)
             ON CONFLICT (tenant, id) DO UPDATE SET
                 received_at = excluded.received_at, expires_at = excluded.expires_at,
                 action = excluded.action, actor_id = excluded.actor_id,
                 actor_email = excluded.actor_email, outcome = excluded.outcome,
                 source_service = excluded.source_service, body = excluded.body,
                 sha256 = excluded.sha256
             WHERE events.expires_at <= ?11",
        )
        .map_err(unavailable)?;
    let mut insert_target = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO event_targets (tenant, target_id, id) VALUES (?1, ?2, ?3)",
        )
        .map_err(unavailable)?;
    let mut clear_targets = tx
        .prepare_cached("DELETE FROM event_targets WHERE tenant = ?1 AND id = ?2")
        .map_err(unavailable)?;
    let mut statuses = Vec::with_capacity(rows.len());
    for row in rows {
        let changed = insert
            .execute(params![
                tenant,
                row.id,
                row.received_at,
                row.expires_at,
                row.action,
                row.actor_id,
                row.actor_email,
                row.outcome,
                row.source_service,
                row.body,
                now.0,
                row.receipt
            ])
            .map_err(unavailable)?;
        if changed == 0 {
            statuses.push(AppendStatus::Duplicate);
            continue;
        }
        clear_targets
            .execute(params![tenant, row.id])
            .map_err(unavailable)?;
        for target in &row.target_ids {
            insert_target
                .execute(params![tenant, target, row.id])
                .map_err(unavailable)?;
        }
        statuses.push(AppendStatus::Stored);
    }
    Ok(statuses)
}

impl SqliteStore {
    /// [`SqliteStore::audited`] for an insert: `insert` answers how many rows it added, and
    /// none (the id exists) is the `Conflict` the store traits promise, naming `what()`.
    pub(crate) async fn audited_insert<F>(
        &self,
        audit: &NewEvent,
        what: impl FnOnce() -> String,
        insert: F,
    ) -> Result<(), StoreError>
    where
        F: FnOnce(&Transaction<'_>) -> Result<usize, StoreError> + Send + 'static,
    {
        if self.audited(audit, move |tx| Ok(insert(tx)? == 1)).await? {
            Ok(())
        } else {
            Err(StoreError::Conflict(what()))
        }
    }

    /// Runs `change` and stores its self-audit record `audit` in one transaction, so a crash
    /// keeps both or neither. `change` answers whether it applied; when it did not, the
    /// transaction is rolled back and nothing is written.
    pub(crate) async fn audited<F>(&self, audit: &NewEvent, change: F) -> Result<bool, StoreError>
    where
        F: FnOnce(&Transaction<'_>) -> Result<bool, StoreError> + Send + 'static,
    {
        let tenant = audit.event.tenant.clone();
        let row = EventRow::from(audit);
        let now = audit.event.received_at;
        self.with_conn(move |conn| {
            let tx = conn.transaction().map_err(unavailable)?;
            if !change(&tx)? {
                return Ok(false);
            }
            let statuses = insert_events(&tx, &tenant, std::slice::from_ref(&row), now)?;
            if statuses != [AppendStatus::Stored] {
                // Record ids are fresh ULIDs: a retained one with the same id means the caller
                // reused an id, and the change must not go unrecorded.
                return Err(StoreError::Conflict(format!("self-audit event {}", row.id)));
            }
            tx.commit().map_err(unavailable)?;
            Ok(true)
        })
        .await
    }
}
