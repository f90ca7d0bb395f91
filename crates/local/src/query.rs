//! Reading events back (a page of a query, one event by id) and purging expired ones.

use async_trait::async_trait;
use auditlog_core::Timestamp;
use auditlog_core::cursor::Position;
use auditlog_core::query::{ActionFilter, Order};
use auditlog_core::store::{
    GetEvent, PageRequest, PurgeExpired, QueryEvents, StoreError, StoredEvent,
};
use rusqlite::types::Value as Sql;
use rusqlite::{OptionalExtension, params, params_from_iter};

use crate::{SqliteStore, unavailable};

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
