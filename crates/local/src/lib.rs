//! The embedded store for local mode: SQLite (bundled, so nothing to install) in a data
//! directory. It implements the `auditlog-core` store traits, so the API and CLI run unchanged on
//! it.
//!
//! # Layout
//!
//! - [`SqliteStore`]: the adapter. One connection behind a mutex, used from tokio's blocking
//!   pool: SQLite serializes writers anyway, and one connection keeps prepared statements cached.
//! - `append`: writing events, and a change with its self-audit record in one transaction.
//! - `schema`: tables and pragmas.
//! - `viewer`: the console's viewer sessions.
//!
//! Durability: WAL journal with `synchronous = FULL`, so a commit has reached the disk before
//! `append_events` returns and the API acknowledges the request.

mod append;
mod schema;
mod viewer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use append::{EventRow, insert_events};
use async_trait::async_trait;
use auditlog_core::Timestamp;
use auditlog_core::cursor::Position;
use auditlog_core::export::{Destination, ExportState};
use auditlog_core::keys::{KeyRecord, format_scopes, parse_scopes};
use auditlog_core::query::{ActionFilter, Order};
use auditlog_core::signing::SigningKeyRecord;
use auditlog_core::store::{
    ApiKeyStore, AppendEvents, AppendStatus, DestinationStore, ExportStateStore, GetEvent,
    NewEvent, PageRequest, PurgeExpired, QueryEvents, SigningKeyStore, StoreError, StoredEvent,
    StreamStateStore,
};
use auditlog_core::stream::delivery::StreamState;
use rusqlite::types::Value as Sql;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

/// File name of the database inside the data directory.
pub const DATABASE_FILE: &str = "auditlog.sqlite3";

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

pub(crate) fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

impl SqliteStore {
    /// Opens (creating on first use) the store in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self, LocalError> {
        std::fs::create_dir_all(data_dir).map_err(|source| LocalError::DataDir {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let path = data_dir.join(DATABASE_FILE);
        let conn = Connection::open(&path).map_err(|source| LocalError::Open {
            path: path.clone(),
            source,
        })?;
        schema::prepare(&conn)?;
        Ok(SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
            path,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The secret that signs page cursors; made on first use and kept in the database so that
    /// cursors survive restarts.
    pub fn cursor_secret(&self) -> Result<[u8; 32], LocalError> {
        let conn = lock(&self.conn);
        let existing: Option<Vec<u8>> = conn
            .query_row(
                "SELECT value FROM meta WHERE name = 'cursor_secret'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(bytes) = existing
            && let Ok(secret) = <[u8; 32]>::try_from(bytes.as_slice())
        {
            return Ok(secret);
        }
        let fresh: [u8; 32] = rand::random();
        conn.execute(
            "INSERT OR REPLACE INTO meta (name, value) VALUES ('cursor_secret', ?1)",
            params![fresh.to_vec()],
        )?;
        Ok(fresh)
    }

    /// Runs `f` with the connection on the blocking pool.
    pub(crate) async fn with_conn<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut guard = lock(&conn);
            f(&mut guard)
        })
        .await
        .map_err(unavailable)?
    }
}

fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // A panic while holding the lock cannot leave a transaction half-applied (SQLite rolls it
    // back), so a poisoned lock is safe to reuse.
    conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[async_trait]
impl AppendEvents for SqliteStore {
    async fn append_events(
        &self,
        tenant: &str,
        events: &[NewEvent],
        now: Timestamp,
    ) -> Result<Vec<AppendStatus>, StoreError> {
        let tenant = tenant.to_string();
        let rows: Vec<EventRow> = events.iter().map(EventRow::from).collect();
        self.with_conn(move |conn| {
            let tx = conn.transaction().map_err(unavailable)?;
            let statuses = insert_events(&tx, &tenant, &rows, now)?;
            tx.commit().map_err(unavailable)?;
            Ok(statuses)
        })
        .await
    }
}

#[async_trait]
impl QueryEvents for SqliteStore {
    async fn query_events(&self, request: PageRequest<'_>) -> Result<Vec<StoredEvent>, StoreError> {
        let q = request.query;
        let mut sql = String::from(
            "SELECT received_at, id, body, sha256 FROM events WHERE tenant = ? AND expires_at > ?",
        );
        let mut args: Vec<Sql> = vec![
            Sql::Text(request.tenant.to_string()),
            Sql::Integer(request.now.0),
        ];
        if let Some(from) = q.from {
            sql.push_str(" AND received_at >= ?");
            args.push(Sql::Integer(from.0));
        }
        if let Some(to) = q.to {
            sql.push_str(" AND received_at < ?");
            args.push(Sql::Integer(to.0));
        }
        match &q.action {
            Some(ActionFilter::Exact(a)) => {
                sql.push_str(" AND action = ?");
                args.push(Sql::Text(a.clone()));
            }
            Some(ActionFilter::Prefix(p)) => {
                // substr, not LIKE: `_` is a LIKE wildcard and is legal in action names.
                sql.push_str(" AND substr(action, 1, ?) = ?");
                args.push(Sql::Integer(p.len() as i64));
                args.push(Sql::Text(p.clone()));
            }
            None => {}
        }
        for (column, value) in [
            ("actor_id", &q.actor_id),
            ("actor_email", &q.actor_email),
            ("source_service", &q.source_service),
        ] {
            if let Some(v) = value {
                sql.push_str(&format!(" AND {column} = ?"));
                args.push(Sql::Text(v.clone()));
            }
        }
        if let Some(outcome) = q.outcome {
            sql.push_str(" AND outcome = ?");
            args.push(Sql::Text(outcome.as_str().to_string()));
        }
        if let Some(target) = &q.target_id {
            sql.push_str(
                " AND EXISTS (SELECT 1 FROM event_targets t WHERE t.tenant = events.tenant AND t.target_id = ? AND t.id = events.id)",
            );
            args.push(Sql::Text(target.clone()));
        }
        let (cmp, dir) = match q.order {
            Order::Asc => (">", "ASC"),
            Order::Desc => ("<", "DESC"),
        };
        if let Some(Position { received_at, id }) = request.after {
            sql.push_str(&format!(" AND (received_at, id) {cmp} (?, ?)"));
            args.push(Sql::Integer(received_at.0));
            args.push(Sql::Text(id.clone()));
        }
        sql.push_str(&format!(" ORDER BY received_at {dir}, id {dir} LIMIT ?"));
        args.push(Sql::Integer(q.limit as i64 + 1));

        self.with_conn(move |conn| {
            let mut stmt = conn.prepare_cached(&sql).map_err(unavailable)?;
            let rows = stmt
                .query_map(params_from_iter(args), |r| {
                    Ok(StoredEvent {
                        position: Position {
                            received_at: Timestamp(r.get(0)?),
                            id: r.get(1)?,
                        },
                        json: r.get(2)?,
                        receipt: r.get(3)?,
                    })
                })
                .map_err(unavailable)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(unavailable)
        })
        .await
    }
}

#[async_trait]
impl GetEvent for SqliteStore {
    async fn get_event(
        &self,
        tenant: &str,
        id: &str,
        now: Timestamp,
    ) -> Result<Option<String>, StoreError> {
        let (tenant, id) = (tenant.to_string(), id.to_string());
        self.with_conn(move |conn| {
            conn.prepare_cached(
                "SELECT body FROM events WHERE tenant = ?1 AND id = ?2 AND expires_at > ?3",
            )
            .and_then(|mut s| {
                s.query_row(params![tenant, id, now.0], |r| r.get(0))
                    .optional()
            })
            .map_err(unavailable)
        })
        .await
    }
}

fn key_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(KeyRecord, String)> {
    let scopes: String = r.get(2)?;
    Ok((
        KeyRecord {
            key_id: r.get(0)?,
            tenant: r.get(1)?,
            scopes: Vec::new(),
            hash: r.get(3)?,
            label: r.get(4)?,
            created_at: Timestamp(r.get(5)?),
            revoked_at: r.get::<_, Option<i64>>(6)?.map(Timestamp),
        },
        scopes,
    ))
}

fn finish_key((mut record, scopes): (KeyRecord, String)) -> Result<KeyRecord, StoreError> {
    record.scopes = parse_scopes(&scopes).map_err(StoreError::Corrupt)?;
    Ok(record)
}

const KEY_COLUMNS: &str = "key_id, tenant, scopes, hash, label, created_at, revoked_at";

#[async_trait]
impl ApiKeyStore for SqliteStore {
    async fn create_key(&self, record: &KeyRecord, audit: &NewEvent) -> Result<(), StoreError> {
        let r = record.clone();
        self.audited_insert(
            audit,
            || format!("key id {}", record.key_id),
            move |tx| {
                tx.execute(
                    &format!(
                        "INSERT OR IGNORE INTO api_keys ({KEY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                    ),
                    params![
                        r.key_id,
                        r.tenant,
                        format_scopes(&r.scopes),
                        r.hash,
                        r.label,
                        r.created_at.0,
                        r.revoked_at.map(|t| t.0)
                    ],
                )
                .map_err(unavailable)
            },
        )
        .await
    }

    async fn find_key(&self, key_id: &str) -> Result<Option<KeyRecord>, StoreError> {
        let key_id = key_id.to_string();
        self.with_conn(move |conn| {
            let found = conn
                .prepare_cached(&format!(
                    "SELECT {KEY_COLUMNS} FROM api_keys WHERE key_id = ?1"
                ))
                .and_then(|mut s| s.query_row(params![key_id], key_from_row).optional())
                .map_err(unavailable)?;
            found.map(finish_key).transpose()
        })
        .await
    }

    async fn list_keys(&self, tenant: Option<&str>) -> Result<Vec<KeyRecord>, StoreError> {
        let tenant = tenant.map(str::to_string);
        self.with_conn(move |conn| {
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT {KEY_COLUMNS} FROM api_keys WHERE ?1 IS NULL OR tenant = ?1 ORDER BY tenant, created_at, key_id"
                ))
                .map_err(unavailable)?;
            let rows = stmt.query_map(params![tenant], key_from_row).map_err(unavailable)?;
            let mut out = Vec::new();
            for row in rows {
                out.push(finish_key(row.map_err(unavailable)?)?);
            }
            Ok(out)
        })
        .await
    }

    async fn revoke_key(
        &self,
        key_id: &str,
        at: Timestamp,
        audit: &NewEvent,
    ) -> Result<bool, StoreError> {
        let key_id = key_id.to_string();
        self.audited(audit, move |tx| {
            let changed = tx
                .execute(
                    "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?2) WHERE key_id = ?1",
                    params![key_id, at.0],
                )
                .map_err(unavailable)?;
            Ok(changed > 0)
        })
        .await
    }
}

#[async_trait]
impl PurgeExpired for SqliteStore {
    async fn purge_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        self.with_conn(move |conn| {
            let tx = conn.transaction().map_err(unavailable)?;
            tx.execute(
                "DELETE FROM event_targets WHERE EXISTS (SELECT 1 FROM events e WHERE e.tenant = event_targets.tenant
                     AND e.id = event_targets.id AND e.expires_at <= ?1)",
                params![now.0],
            )
            .map_err(unavailable)?;
            let n = tx
                .execute("DELETE FROM events WHERE expires_at <= ?1", params![now.0])
                .map_err(unavailable)?;
            tx.commit().map_err(unavailable)?;
            Ok(n as u64)
        })
        .await
    }
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

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
        let body = self.state_body(StateTable::Export, destination_id).await?;
        match body {
            Some(body) => from_json(&body),
            None => Ok(ExportState::new(destination_id)),
        }
    }

    async fn save_export_state(
        &self,
        next: &ExportState,
        expected_version: u64,
    ) -> Result<bool, StoreError> {
        auditlog_core::store::check_next_version(next.version, expected_version)?;
        let body = to_json(next)?;
        self.save_state_body(StateTable::Export, &next.destination_id, next.version, body)
            .await
    }

    async fn change_export_state(
        &self,
        next: &ExportState,
        expected_version: u64,
        audit: &NewEvent,
    ) -> Result<bool, StoreError> {
        auditlog_core::store::check_next_version(next.version, expected_version)?;
        let body = to_json(next)?;
        self.change_state_body(
            StateTable::Export,
            &next.destination_id,
            next.version,
            body,
            audit,
        )
        .await
    }
}

#[async_trait]
impl StreamStateStore for SqliteStore {
    async fn stream_state(&self, destination_id: &str) -> Result<StreamState, StoreError> {
        let body = self.state_body(StateTable::Stream, destination_id).await?;
        match body {
            Some(body) => from_json(&body),
            None => Ok(StreamState {
                destination_id: destination_id.to_string(),
                ..StreamState::default()
            }),
        }
    }

    async fn save_stream_state(
        &self,
        next: &StreamState,
        expected_version: u64,
    ) -> Result<bool, StoreError> {
        auditlog_core::store::check_next_version(next.version, expected_version)?;
        let body = to_json(next)?;
        self.save_state_body(StateTable::Stream, &next.destination_id, next.version, body)
            .await
    }

    async fn change_stream_state(
        &self,
        next: &StreamState,
        expected_version: u64,
        audit: &NewEvent,
    ) -> Result<bool, StoreError> {
        auditlog_core::store::check_next_version(next.version, expected_version)?;
        let body = to_json(next)?;
        self.change_state_body(
            StateTable::Stream,
            &next.destination_id,
            next.version,
            body,
            audit,
        )
        .await
    }
}

/// The two tables of versioned per-destination state, alike in shape.
#[derive(Clone, Copy)]
enum StateTable {
    Export,
    Stream,
}

impl StateTable {
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
    async fn state_body(
        &self,
        table: StateTable,
        destination_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let id = destination_id.to_string();
        self.with_conn(move |conn| {
            conn.query_row(table.select(), params![id], |row| row.get(0))
                .optional()
                .map_err(unavailable)
        })
        .await
    }

    /// [`Self::save_state_body`] with a self-audit record, in one transaction.
    async fn change_state_body(
        &self,
        table: StateTable,
        destination_id: &str,
        version: u64,
        body: String,
        audit: &NewEvent,
    ) -> Result<bool, StoreError> {
        let id = destination_id.to_string();
        let version = i64::try_from(version).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.audited(audit, move |tx| {
            let changed = if version == 1 {
                tx.execute(table.insert(), params![id, version, body])
            } else {
                tx.execute(table.update(), params![id, version, body, version - 1])
            }
            .map_err(unavailable)?;
            Ok(changed == 1)
        })
        .await
    }

    /// Stores a state `version` if the stored one is `version - 1` (none stored for 1).
    async fn save_state_body(
        &self,
        table: StateTable,
        destination_id: &str,
        version: u64,
        body: String,
    ) -> Result<bool, StoreError> {
        let id = destination_id.to_string();
        let version = i64::try_from(version).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.with_conn(move |conn| {
            // One statement either way, so the check and the write cannot be separated.
            let changed = if version == 1 {
                conn.execute(table.insert(), params![id, version, body])
            } else {
                conn.execute(table.update(), params![id, version, body, version - 1])
            }
            .map_err(unavailable)?;
            Ok(changed == 1)
        })
        .await
    }
}

#[async_trait]
impl SigningKeyStore for SqliteStore {
    async fn add_signing_key(&self, key: &SigningKeyRecord) -> Result<(), StoreError> {
        let body = to_json(key).map_err(unavailable)?;
        let (id, at) = (key.key_id.clone(), key.activated_at.0);
        self.with_conn(move |conn| {
            let added = conn
                .execute(
                    "INSERT OR IGNORE INTO signing_keys (key_id, activated_at, body) VALUES (?1, ?2, ?3)",
                    params![id, at, body],
                )
                .map_err(unavailable)?;
            if added == 0 {
                return Err(StoreError::Conflict(format!("signing key {id}")));
            }
            Ok(())
        })
        .await
    }

    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError> {
        self.with_conn(|conn| {
            let mut statement = conn
                .prepare("SELECT body FROM signing_keys ORDER BY activated_at, key_id")
                .map_err(unavailable)?;
            let bodies = statement
                .query_map([], |row| row.get::<_, String>(0))
                .map_err(unavailable)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(unavailable)?;
            bodies.iter().map(|b| from_json(b)).collect()
        })
        .await
    }
}
