//! Viewer sessions in SQLite: one row each, the domain record as JSON, and an `opened` flag that
//! the one-time opening updates conditionally. Issuing and opening are written with their
//! self-audit record in one transaction.

use async_trait::async_trait;
use auditlog_core::store::{NewEvent, StoreError, ViewerSessionStore};
use auditlog_core::viewer::ViewerSession;
use rusqlite::{OptionalExtension, params};

use crate::{SqliteStore, from_json, to_json, unavailable};

#[async_trait]
impl ViewerSessionStore for SqliteStore {
    async fn create_viewer_session(
        &self,
        session: &ViewerSession,
        audit: &NewEvent,
    ) -> Result<(), StoreError> {
        let body = to_json(session)?;
        let id = session.id.clone();
        let opened = i64::from(session.opened_at.is_some());
        self.audited_insert(
            audit,
            || format!("viewer session {}", session.id),
            move |tx| {
                tx.execute(
                    "INSERT OR IGNORE INTO viewer_sessions (id, opened, body) VALUES (?1, ?2, ?3)",
                    params![id, opened, body],
                )
                .map_err(unavailable)
            },
        )
        .await
    }

    async fn find_viewer_session(&self, id: &str) -> Result<Option<ViewerSession>, StoreError> {
        let id = id.to_string();
        self.with_conn(move |conn| {
            let body: Option<String> = conn
                .query_row(
                    "SELECT body FROM viewer_sessions WHERE id = ?1",
                    params![id],
                    |row| row.get(0),
                )
                .optional()
                .map_err(unavailable)?;
            body.map(|b| from_json(&b)).transpose()
        })
        .await
    }

    async fn open_viewer_session(
        &self,
        opened: &ViewerSession,
        audit: &NewEvent,
    ) -> Result<bool, StoreError> {
        let body = to_json(opened)?;
        let id = opened.id.clone();
        self.audited(audit, move |tx| {
            let changed = tx
                .execute(
                    "UPDATE viewer_sessions SET opened = 1, body = ?2 WHERE id = ?1 AND opened = 0",
                    params![id, body],
                )
                .map_err(unavailable)?;
            Ok(changed == 1)
        })
        .await
    }
}
