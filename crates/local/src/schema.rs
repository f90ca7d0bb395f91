//! Tables, indexes and connection settings.

use rusqlite::Connection;

pub fn prepare(conn: &Connection) -> rusqlite::Result<()> {
    // WAL lets the CLI read and write (keys, queries) while `serve` runs; FULL makes every commit
    // durable before it returns; the busy timeout covers those two processes meeting.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.execute_batch(
        "
        CREATE TABLE IF NOT EXISTS meta (
            name  TEXT PRIMARY KEY,
            value BLOB NOT NULL
        );
        -- (tenant, id) is the idempotency key: one row per event id per tenant.
        CREATE TABLE IF NOT EXISTS events (
            tenant         TEXT    NOT NULL,
            id             TEXT    NOT NULL,
            received_at    INTEGER NOT NULL,
            expires_at     INTEGER NOT NULL,
            action         TEXT    NOT NULL,
            actor_id       TEXT    NOT NULL,
            actor_email    TEXT,
            outcome        TEXT    NOT NULL,
            source_service TEXT,
            body           TEXT    NOT NULL,
            -- The receipt computed at ingest (NULL in rows written before it was kept).
            sha256         TEXT,
            PRIMARY KEY (tenant, id)
        ) WITHOUT ROWID;
        -- The order every read uses (and that cursors point into).
        CREATE INDEX IF NOT EXISTS events_by_time ON events (tenant, received_at, id);
        CREATE INDEX IF NOT EXISTS events_by_actor ON events (tenant, actor_id, received_at);
        CREATE INDEX IF NOT EXISTS events_by_expiry ON events (expires_at);
        CREATE TABLE IF NOT EXISTS event_targets (
            tenant    TEXT NOT NULL,
            target_id TEXT NOT NULL,
            id        TEXT NOT NULL,
            PRIMARY KEY (tenant, target_id, id)
        ) WITHOUT ROWID;
        -- Writing an event first clears its old targets by (tenant, id): without this index that
        -- is a scan of the tenant's targets on every insert (quadratic ingest, found by
        -- scripts/bench-export.sh).
        CREATE INDEX IF NOT EXISTS event_targets_by_event ON event_targets (tenant, id);
        CREATE TABLE IF NOT EXISTS api_keys (
            key_id     TEXT PRIMARY KEY,
            tenant     TEXT    NOT NULL,
            scopes     TEXT    NOT NULL,
            hash       TEXT    NOT NULL,
            label      TEXT,
            created_at INTEGER NOT NULL,
            revoked_at INTEGER
        );
        -- Export destinations and their state; `body` is the domain type as JSON.
        CREATE TABLE IF NOT EXISTS destinations (
            id         TEXT PRIMARY KEY,
            tenant     TEXT    NOT NULL,
            created_at INTEGER NOT NULL,
            body       TEXT    NOT NULL
        );
        CREATE TABLE IF NOT EXISTS export_state (
            destination_id TEXT PRIMARY KEY,
            version        INTEGER NOT NULL,
            body           TEXT    NOT NULL
        );
        -- The delivery state of each stream destination (auditlog_core::stream::delivery).
        CREATE TABLE IF NOT EXISTS stream_state (
            destination_id TEXT PRIMARY KEY,
            version        INTEGER NOT NULL,
            body           TEXT    NOT NULL
        );
        -- Console viewer sessions (crate::viewer); `body` holds hashes, never a token.
        CREATE TABLE IF NOT EXISTS viewer_sessions (
            id     TEXT PRIMARY KEY,
            opened INTEGER NOT NULL,
            body   TEXT    NOT NULL
        );
        -- Digest signing keys (docs/integrity.md); `body` holds the private seed.
        CREATE TABLE IF NOT EXISTS signing_keys (
            key_id       TEXT PRIMARY KEY,
            activated_at INTEGER NOT NULL,
            body         TEXT    NOT NULL
        );
        ",
    )?;
    add_receipts(conn)
}

/// Databases created before receipts were stored get the column; their rows keep NULL, and the
/// exporter computes those receipts.
fn add_receipts(conn: &Connection) -> rusqlite::Result<()> {
    if has_receipts(conn)? {
        return Ok(());
    }
    // Two processes (`serve` and a CLI command) may open an old database at once: the write lock
    // makes the second one find the column the first added.
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let added = match has_receipts(conn) {
        Ok(true) => Ok(()),
        Ok(false) => conn.execute_batch("ALTER TABLE events ADD COLUMN sha256 TEXT"),
        Err(e) => Err(e),
    };
    match added {
        Ok(()) => conn.execute_batch("COMMIT"),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

fn has_receipts(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM pragma_table_info('events') WHERE name = 'sha256')",
        [],
        |r| r.get(0),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A database made before receipts were stored: its events table gets the column, its rows
    /// keep no receipt (the exporter computes theirs), and opening it again changes nothing.
    #[test]
    fn an_older_database_gets_the_receipt_column() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE events (tenant TEXT NOT NULL, id TEXT NOT NULL, received_at INTEGER NOT NULL,
                 expires_at INTEGER NOT NULL, action TEXT NOT NULL, actor_id TEXT NOT NULL,
                 actor_email TEXT, outcome TEXT NOT NULL, source_service TEXT, body TEXT NOT NULL,
                 PRIMARY KEY (tenant, id)) WITHOUT ROWID;
             INSERT INTO events VALUES ('t', 'e1', 1, 2, 'a.b', 'u', NULL, 'success', NULL, '{}');",
        )
        .unwrap();
        assert!(!has_receipts(&conn).unwrap());
        prepare(&conn).unwrap();
        assert!(has_receipts(&conn).unwrap());
        prepare(&conn).unwrap();
        let stored: Option<String> = conn
            .query_row("SELECT sha256 FROM events WHERE id = 'e1'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(stored, None);
    }
}
