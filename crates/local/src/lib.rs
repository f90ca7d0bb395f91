//! The embedded store for local mode: SQLite (bundled, so nothing to install) in a data
//! directory. It implements the `auditlog-core` store traits, so the API and CLI run unchanged on
//! it.
//!
//! # Layout
//!
//! - [`SqliteStore`]: the adapter. One connection behind a mutex, used from tokio's blocking
//!   pool: SQLite serializes writers anyway, and one connection keeps prepared statements cached.
//! - `append`: writing events, and a change with its self-audit record in one transaction.
//! - `query`: reading events back, and purging expired ones.
//! - `keys`: API keys and digest signing keys.
//! - `state`: destinations and their export and stream state.
//! - `schema`: tables and pragmas.
//! - `viewer`: the console's viewer sessions.
//!
//! Durability: WAL journal with `synchronous = FULL`, so a commit has reached the disk before
//! `append_events` returns and the API acknowledges the request.

mod append;
mod keys;
mod query;
mod schema;
mod state;
mod viewer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use append::{EventRow, insert_events};
use async_trait::async_trait;
use auditlog_core::Timestamp;
use auditlog_core::store::{AppendEvents, AppendStatus, NewEvent, StoreError};
use rusqlite::{Connection, OptionalExtension, params};

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

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}
