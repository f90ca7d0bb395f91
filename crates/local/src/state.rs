//! Destinations, and the versioned state of each (export and stream): every change is a
//! compare-and-set on the version, with its self-audit record in the same transaction.

use async_trait::async_trait;
use auditlog_core::export::{Destination, ExportState};
use auditlog_core::store::{
    DestinationStore, ExportStateStore, NewEvent, StoreError, StreamStateStore,
};
use auditlog_core::stream::delivery::StreamState;
use rusqlite::{Connection, OptionalExtension, params};

use crate::{SqliteStore, from_json, to_json, unavailable};

#[async_trait]
impl DestinationStore for SqliteStore {
    async fn add_destination(
        &self,
        destination: &Destination,
        audit: &NewEvent,
    ) -> Result<(), StoreError> {
        let body = to_json(destination).map_err(unavailable)?;
        let d = destination.clone();
        self.audited_insert(
            audit,
            || format!("destination {}", destination.id),
            move |tx| {
                tx.execute(
                    "INSERT OR IGNORE INTO destinations (id, tenant, created_at, body) VALUES (?1, ?2, ?3, ?4)",
                    params![d.id, d.tenant, d.created_at.0, body],
                )
                .map_err(unavailable)
            },
        )
        .await
    }

    async fn list_destinations(
        &self,
        tenant: Option<&str>,
    ) -> Result<Vec<Destination>, StoreError> {
        let tenant = tenant.map(str::to_string);
        self.with_conn(move |conn| {
            let mut statement = conn.prepare(
                "SELECT body FROM destinations WHERE ?1 IS NULL OR tenant = ?1 ORDER BY tenant, created_at, id",
            ).map_err(unavailable)?;
            let bodies = statement
                .query_map(params![tenant], |row| row.get::<_, String>(0))
                .map_err(unavailable)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(unavailable)?;
            bodies.iter().map(|b| from_json(b)).collect()
        })
        .await
    }

    async fn remove_destination(&self, id: &str, audit: &NewEvent) -> Result<bool, StoreError> {
        let id = id.to_string();
        self.audited(audit, move |tx| {
            Ok(tx
                .execute("DELETE FROM destinations WHERE id = ?1", params![id])
                .map_err(unavailable)?
                == 1)
        })
        .await
    }
}

#[async_trait]
impl ExportStateStore for SqliteStore {
    async fn export_state(&self, destination_id: &str) -> Result<ExportState, StoreError> {
        self.load_state(destination_id).await
    }

    async fn save_export_state(
        &self,
        next: &ExportState,
        expected_version: u64,
    ) -> Result<bool, StoreError> {
        self.store_state(next, expected_version, None).await
    }

    async fn change_export_state(
        &self,
        next: &ExportState,
        expected_version: u64,
        audit: &NewEvent,
    ) -> Result<bool, StoreError> {
        self.store_state(next, expected_version, Some(audit)).await
    }
}

#[async_trait]
impl StreamStateStore for SqliteStore {
    async fn stream_state(&self, destination_id: &str) -> Result<StreamState, StoreError> {
        self.load_state(destination_id).await
    }

    async fn save_stream_state(
        &self,
        next: &StreamState,
        expected_version: u64,
    ) -> Result<bool, StoreError> {
        self.store_state(next, expected_version, None).await
    }

    async fn change_stream_state(
        &self,
        next: &StreamState,
        expected_version: u64,
        audit: &NewEvent,
    ) -> Result<bool, StoreError> {
        self.store_state(next, expected_version, Some(audit)).await
    }
}

/// The two kinds of versioned per-destination state, stored alike.
trait Versioned: serde::Serialize + serde::de::DeserializeOwned + Send + Sync {
    const TABLE: StateTable;
    /// The state of a destination nothing was stored for yet.
    fn fresh(destination_id: &str) -> Self;
    fn destination_id(&self) -> &str;
    fn version(&self) -> u64;
}

impl Versioned for ExportState {
    const TABLE: StateTable = StateTable::Export;
    fn fresh(destination_id: &str) -> Self {
        ExportState::new(destination_id)
    }
    fn destination_id(&self) -> &str {
        &self.destination_id
    }
    fn version(&self) -> u64 {
        self.version
    }
}

impl Versioned for StreamState {
    const TABLE: StateTable = StateTable::Stream;
    fn fresh(destination_id: &str) -> Self {
        StreamState {
            destination_id: destination_id.to_string(),
            ..StreamState::default()
        }
    }
    fn destination_id(&self) -> &str {
        &self.destination_id
    }
    fn version(&self) -> u64 {
        self.version
    }
}

/// The two tables of versioned per-destination state, alike in shape.
#[derive(Clone, Copy)]
enum StateTable {
    Export,
    Stream,
}

impl StateTable {
    /// Stores state `version` of a destination if the stored one is `version - 1` (none stored
    /// for 1); whether it did. One statement either way, so the check and the write cannot be
    /// separated.
    fn write(
        self,
        conn: &Connection,
        id: &str,
        version: i64,
        body: &str,
    ) -> Result<bool, StoreError> {
        let changed = if version == 1 {
            conn.execute(self.insert(), params![id, version, body])
        } else {
            conn.execute(self.update(), params![id, version, body, version - 1])
        }
        .map_err(unavailable)?;
        Ok(changed == 1)
    }

    fn select(self) -> &'static str {
        match self {
            StateTable::Export => "SELECT body FROM export_state WHERE destination_id = ?1",
            StateTable::Stream => "SELECT body FROM stream_state WHERE destination_id = ?1",
        }
    }

    fn insert(self) -> &'static str {
        match self {
            StateTable::Export => {
                "INSERT OR IGNORE INTO export_state (destination_id, version, body) VALUES (?1, ?2, ?3)"
            }
            StateTable::Stream => {
                "INSERT OR IGNORE INTO stream_state (destination_id, version, body) VALUES (?1, ?2, ?3)"
            }
        }
    }

    fn update(self) -> &'static str {
        match self {
            StateTable::Export => {
                "UPDATE export_state SET version = ?2, body = ?3 WHERE destination_id = ?1 AND version = ?4"
            }
            StateTable::Stream => {
                "UPDATE stream_state SET version = ?2, body = ?3 WHERE destination_id = ?1 AND version = ?4"
            }
        }
    }
}

impl SqliteStore {
    async fn load_state<S: Versioned>(&self, destination_id: &str) -> Result<S, StoreError> {
        let id = destination_id.to_string();
        let body: Option<String> = self
            .with_conn(move |conn| {
                conn.query_row(S::TABLE.select(), params![id], |row| row.get(0))
                    .optional()
                    .map_err(unavailable)
            })
            .await?;
        match body {
            Some(body) => from_json(&body),
            None => Ok(S::fresh(destination_id)),
        }
    }

    /// Stores `next` if the stored version is `expected_version` (its own less one), with
    /// `audit` in the same transaction when there is one.
    async fn store_state<S: Versioned>(
        &self,
        next: &S,
        expected_version: u64,
        audit: Option<&NewEvent>,
    ) -> Result<bool, StoreError> {
        auditlog_core::store::check_next_version(next.version(), expected_version)?;
        let body = to_json(next)?;
        let id = next.destination_id().to_string();
        let version =
            i64::try_from(next.version()).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        match audit {
            Some(audit) => {
                self.audited(audit, move |tx| S::TABLE.write(tx, &id, version, &body))
                    .await
            }
            None => {
                self.with_conn(move |conn| S::TABLE.write(conn, &id, version, &body))
                    .await
            }
        }
    }
}
