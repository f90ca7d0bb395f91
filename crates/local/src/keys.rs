//! API keys (stored hashed, changed with their self-audit record) and the keys that sign
//! export digests.

use async_trait::async_trait;
use auditlog_core::Timestamp;
use auditlog_core::keys::{KeyRecord, format_scopes, parse_scopes};
use auditlog_core::signing::SigningKeyRecord;
use auditlog_core::store::{ApiKeyStore, NewEvent, SigningKeyStore, StoreError};
use rusqlite::{OptionalExtension, params};

use crate::{SqliteStore, from_json, to_json, unavailable};

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
    record.scopes = parse_scopes(&scopes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
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
