//! The auditlog store traits on DynamoDB (see `docs/dynamodb.md` for the design and why).
//!
//! # Layout
//!
//! - `layout`: pure key design: item keys, shard choice, sort keys, query bounds, the k-way merge
//!   of shard pages. No SDK calls, unit-tested.
//! - [`DynamoStore`]: the adapter: one conditional `PutItem` per event, `Query` on the `by_time`
//!   index per shard, `GetItem` by id; API keys in their own table.
//! - `query`: a page of a query (every shard, merged), one event by id.
//! - `audited`: a change and its self-audit record in one `TransactWriteItems`.
//! - `keys`: API keys in their own table, listed per tenant through its `by_tenant` index.
//! - `exports`: destinations and export state (compare-and-set on a version) in the exports
//!   table.
//! - [`limits`]: DynamoDB's hard limits (item size, batch and page sizes), checked before sending.
//! - [`sdk_config`]: the AWS configuration every client is built from, with its one HTTPS
//!   client (rustls over ring).
//! - [`tables`]: creating the tables (TTL on) for local runs and tests; deployments get them
//!   from `template.yaml`.

mod audited;
mod exports;
mod keys;
pub mod layout;
pub mod limits;
mod query;
pub mod sdk_config;
pub mod tables;
mod viewer;

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use auditlog_core::Timestamp;
use auditlog_core::store::{AppendEvents, AppendStatus, NewEvent, StoreError};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use futures::StreamExt;

use crate::layout::{event_key, shard_key, shard_of, time_key};

/// A setting [`DynamoConfig::from_env`] cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("AUDITLOG_DDB_SHARDS=`{0}` must be 1 to 64")]
    Shards(String),
}

/// Table names and shard count, from the same environment variables the functions read.
#[derive(Debug, Clone)]
pub struct DynamoConfig {
    pub events_table: String,
    pub keys_table: String,
    /// Destinations and their export state.
    pub exports_table: String,
    pub shards: u16,
}

impl DynamoConfig {
    /// Every environment variable [`DynamoConfig::from_env`] reads.
    pub const ENV_NAMES: [&str; 4] = [
        "AUDITLOG_EVENTS_TABLE",
        "AUDITLOG_KEYS_TABLE",
        "AUDITLOG_EXPORTS_TABLE",
        "AUDITLOG_DDB_SHARDS",
    ];

    /// `AUDITLOG_EVENTS_TABLE` (default `auditlog-events`), `AUDITLOG_KEYS_TABLE` (default
    /// `auditlog-keys`), `AUDITLOG_EXPORTS_TABLE` (default `auditlog-exports`),
    /// `AUDITLOG_DDB_SHARDS` (default 4).
    pub fn from_env() -> Result<Self, ConfigError> {
        let shards = match std::env::var("AUDITLOG_DDB_SHARDS") {
            Ok(text) => text
                .parse::<u16>()
                .ok()
                .filter(|n| (1..=64).contains(n))
                .ok_or(ConfigError::Shards(text))?,
            Err(_) => layout::DEFAULT_SHARDS,
        };
        Ok(DynamoConfig {
            events_table: std::env::var("AUDITLOG_EVENTS_TABLE")
                .unwrap_or_else(|_| "auditlog-events".into()),
            keys_table: std::env::var("AUDITLOG_KEYS_TABLE")
                .unwrap_or_else(|_| "auditlog-keys".into()),
            exports_table: std::env::var("AUDITLOG_EXPORTS_TABLE")
                .unwrap_or_else(|_| "auditlog-exports".into()),
            shards,
        })
    }
}

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    config: DynamoConfig,
}

impl std::fmt::Debug for DynamoStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoStore")
            .field("config", &self.config)
            .finish()
    }
}

/// Concurrent writes per request: enough to hide round trips, bounded so one request cannot
/// flood the table.
const WRITE_CONCURRENCY: usize = 16;
/// Attempts for a throttled write before the item is reported as failed.
const WRITE_ATTEMPTS: u32 = 6;

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// The outcome of a `PutItem` conditioned on the item being absent: `Conflict(what)` when the
/// condition failed (the item exists), `Unavailable` on any other failure.
fn created<O, R: std::fmt::Debug>(
    result: Result<O, SdkError<aws_sdk_dynamodb::operation::put_item::PutItemError, R>>,
    what: impl FnOnce() -> String,
) -> Result<(), StoreError> {
    match result {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
        {
            Err(StoreError::Conflict(what()))
        }
        Err(e) => Err(StoreError::Unavailable(sdk_message(&e))),
    }
}

/// The outcome of a conditional `PutItem` that may lose a race: `false` when the condition
/// failed (someone else wrote first), `Unavailable` on any other failure.
fn won<O, R: std::fmt::Debug>(
    result: Result<O, SdkError<aws_sdk_dynamodb::operation::put_item::PutItemError, R>>,
) -> Result<bool, StoreError> {
    match created(result, String::new) {
        Ok(()) => Ok(true),
        Err(StoreError::Conflict(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

fn sdk_message<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
    e: &SdkError<E, R>,
) -> String {
    match e {
        SdkError::ServiceError(service) => {
            let err = service.err();
            format!(
                "{}: {}",
                err.code().unwrap_or("error"),
                err.message().unwrap_or("")
            )
        }
        other => format!("{other:?}").chars().take(300).collect(),
    }
}

fn is_throttle(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "ProvisionedThroughputExceededException"
                | "ThrottlingException"
                | "RequestLimitExceeded"
                | "InternalServerError"
        )
    )
}

/// Exponential backoff with full jitter: up to 25 ms, 50 ms, 100 ms, ... capped at 2 s.
fn backoff(attempt: u32) -> Duration {
    let cap = 25u64.saturating_mul(1 << attempt.min(7)).min(2000);
    Duration::from_millis(rand::random_range(0..=cap))
}

fn text_attr(item: &HashMap<String, AttributeValue>, name: &str) -> Result<String, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v.clone()),
        _ => Err(StoreError::Corrupt(format!(
            "item lacks string attribute {name}"
        ))),
    }
}

fn number_attr(item: &HashMap<String, AttributeValue>, name: &str) -> Result<i64, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("attribute {name} is not a whole number"))),
        _ => Err(StoreError::Corrupt(format!(
            "item lacks number attribute {name}"
        ))),
    }
}

impl DynamoStore {
    pub fn new(client: Client, config: DynamoConfig) -> Self {
        DynamoStore { client, config }
    }

    /// A client from the standard AWS configuration chain (region, credentials, and the
    /// `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_DYNAMODB` endpoint overrides).
    pub async fn from_env() -> Result<Self, ConfigError> {
        let shared = sdk_config::load().await;
        Ok(DynamoStore::new(
            Client::new(&shared),
            DynamoConfig::from_env()?,
        ))
    }

    /// A client from the standard configuration chain, for the given tables.
    pub async fn connect(config: DynamoConfig) -> Self {
        let shared = sdk_config::load().await;
        DynamoStore::new(Client::new(&shared), config)
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn config(&self) -> &DynamoConfig {
        &self.config
    }

    /// The secret that signs page cursors, made once and shared by every function instance.
    pub async fn cursor_secret(&self) -> Result<[u8; 32], StoreError> {
        let key = || {
            HashMap::from([
                ("pk".to_string(), s(layout::CURSOR_SECRET_PK)),
                ("sk".to_string(), s(layout::META_SK)),
            ])
        };
        for _ in 0..2 {
            let found = self
                .client
                .get_item()
                .table_name(&self.config.events_table)
                .set_key(Some(key()))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| StoreError::Unavailable(sdk_message(&e)))?;
            if let Some(AttributeValue::B(blob)) = found.item().and_then(|i| i.get("value"))
                && let Ok(secret) = <[u8; 32]>::try_from(blob.as_ref())
            {
                return Ok(secret);
            }
            let fresh: [u8; 32] = rand::random();
            let mut item = key();
            item.insert("value".into(), AttributeValue::B(fresh.to_vec().into()));
            // Two instances starting at once: the first write wins, the other reads it back.
            let put = self
                .client
                .put_item()
                .table_name(&self.config.events_table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .send()
                .await;
            match put {
                Ok(_) => return Ok(fresh),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
                {
                    continue;
                }
                Err(e) => return Err(StoreError::Unavailable(sdk_message(&e))),
            }
        }
        Err(StoreError::Corrupt(
            "cursor secret item is malformed".into(),
        ))
    }

    fn event_item(&self, tenant: &str, e: &NewEvent) -> HashMap<String, AttributeValue> {
        let ev = &e.event;
        let mut item = HashMap::from([
            ("pk".to_string(), s(event_key(tenant, &ev.id))),
            ("sk".to_string(), s(layout::EVENT_SK)),
            (
                "tpk".to_string(),
                s(shard_key(tenant, shard_of(&ev.id, self.config.shards))),
            ),
            ("tsk".to_string(), s(time_key(ev.received_at, &ev.id))),
            ("id".to_string(), s(ev.id.clone())),
            ("received_at".to_string(), n(ev.received_at.0)),
            ("exp_ms".to_string(), n(e.expires_at.0)),
            // The TTL attribute: epoch seconds, rounded up so DynamoDB never deletes early.
            (
                layout::TTL_ATTRIBUTE.to_string(),
                n(layout::ttl_seconds(e.expires_at)),
            ),
            ("body".to_string(), s(e.json.clone())),
            ("action".to_string(), s(ev.action.clone())),
            ("actor_id".to_string(), s(ev.actor.id.clone())),
            ("outcome".to_string(), s(ev.outcome.as_str())),
        ]);
        if let Some(receipt) = &e.receipt {
            item.insert(layout::RECEIPT_ATTRIBUTE.into(), s(receipt.clone()));
        }
        if let Some(email) = &ev.actor.email {
            item.insert("actor_email".into(), s(email.clone()));
        }
        if let Some(service) = ev.source.as_ref().and_then(|src| src.service.clone()) {
            item.insert("source_service".into(), s(service));
        }
        if !ev.targets.is_empty() {
            let mut ids: Vec<String> = ev.targets.iter().map(|t| t.id.to_string()).collect();
            ids.sort();
            ids.dedup();
            item.insert("target_ids".into(), AttributeValue::Ss(ids));
        }
        item
    }

    async fn put_event(
        &self,
        item: HashMap<String, AttributeValue>,
        now: Timestamp,
    ) -> AppendStatus {
        let mut attempt = 0;
        loop {
            // A retained event with this id wins; an expired one (TTL not yet run) is replaced.
            let result = self
                .client
                .put_item()
                .table_name(&self.config.events_table)
                .set_item(Some(item.clone()))
                .condition_expression("attribute_not_exists(pk) OR exp_ms <= :now")
                .expression_attribute_values(":now", n(now.0))
                .send()
                .await;
            match result {
                Ok(_) => return AppendStatus::Stored,
                Err(e) => {
                    if e.as_service_error()
                        .is_some_and(|s| s.is_conditional_check_failed_exception())
                    {
                        return AppendStatus::Duplicate;
                    }
                    let code = e
                        .as_service_error()
                        .and_then(|s| s.code())
                        .map(str::to_string);
                    let retryable = is_throttle(code.as_deref())
                        || matches!(e, SdkError::TimeoutError(_) | SdkError::DispatchFailure(_));
                    attempt += 1;
                    if !retryable || attempt >= WRITE_ATTEMPTS {
                        let message = sdk_message(&e);
                        tracing::error!(error = %message, attempt, "event write failed");
                        return AppendStatus::Failed(format!(
                            "not stored ({message}); retrying is safe"
                        ));
                    }
                    tokio::time::sleep(backoff(attempt)).await;
                }
            }
        }
    }
}

#[async_trait]
impl AppendEvents for DynamoStore {
    async fn append_events(
        &self,
        tenant: &str,
        events: &[NewEvent],
        now: Timestamp,
    ) -> Result<Vec<AppendStatus>, StoreError> {
        // The same id twice in one request: the first is written, the rest are duplicates
        // without a round trip (concurrent writes could otherwise let a later one win).
        let mut seen = std::collections::HashSet::new();
        let items: Vec<Option<HashMap<String, AttributeValue>>> = events
            .iter()
            .map(|e| {
                seen.insert(e.event.id.as_str())
                    .then(|| self.event_item(tenant, e))
            })
            .collect();
        let mut writes = Vec::with_capacity(items.len());
        for item in items {
            writes.push(async move {
                match item {
                    Some(item) => match limits::check_item_size(&item) {
                        Ok(()) => self.put_event(item, now).await,
                        Err(reason) => AppendStatus::Failed(reason.to_string()),
                    },
                    None => AppendStatus::Duplicate,
                }
            });
        }
        Ok(futures::stream::iter(writes)
            .buffered(WRITE_CONCURRENCY)
            .collect()
            .await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        for attempt in 0..20 {
            assert!(backoff(attempt) <= Duration::from_millis(2000));
        }
        assert!(is_throttle(Some("ThrottlingException")));
        assert!(!is_throttle(Some("ValidationException")));
    }

    /// The worst case validation allows at `AUDITLOG_MAX_EVENT_BYTES` = `limits::MAX_EVENT_BYTES`
    /// (the most targets, the longest ids in 4-byte characters, padding up to the event limit)
    /// still fits in one DynamoDB item.
    #[test]
    fn the_largest_valid_event_fits_in_an_item() {
        use auditlog_core::redact::Redactor;
        use auditlog_core::validate::{IngestContext, Limits, prepare_event};
        let limits = Limits {
            max_event_bytes: limits::MAX_EVENT_BYTES,
            max_request_bytes: 4 * 1024 * 1024,
            max_free_json_bytes: limits::MAX_EVENT_BYTES,
            ..Limits::default()
        };
        let wide = |n: usize| "\u{1D11E}".repeat(n);
        let targets: Vec<serde_json::Value> = (0..limits.max_targets)
            .map(|i| serde_json::json!({"type": "t", "id": format!("{i:02}{}", wide(254))}))
            .collect();
        let mut event = serde_json::json!({
            "id": "i".repeat(128), "action": format!("a.{}", "b".repeat(126)), "actor": {"id": wide(128), "email": "a@b.c"},
            "targets": targets, "source": {"service": wide(128)}, "metadata": {"pad": ""}
        });
        let base = serde_json::to_string(&event).unwrap_or_default().len();
        event["metadata"]["pad"] =
            serde_json::Value::String("p".repeat(limits::MAX_EVENT_BYTES - base - 1000));
        let redactor = Redactor::default();
        let ctx = IngestContext {
            tenant: &"t".repeat(64),
            received_at: Timestamp(1),
            limits: &limits,
            redactor: &redactor,
        };
        let prepared = match prepare_event(event, "", &ctx, &mut || "x".into()) {
            Ok(p) => p,
            Err(errors) => panic!("{errors:?}"),
        };
        assert!(
            prepared.json.len() > limits::MAX_EVENT_BYTES - 1024,
            "{}",
            prepared.json.len()
        );
        let client = Client::from_conf(
            aws_sdk_dynamodb::Config::builder()
                .behavior_version_latest()
                .build(),
        );
        let store = DynamoStore::new(
            client,
            DynamoConfig {
                events_table: "e".into(),
                keys_table: "k".into(),
                exports_table: "x".into(),
                shards: 4,
            },
        );
        let item = store.event_item(
            &"t".repeat(64),
            &NewEvent::prepared(prepared, Timestamp(i64::MAX / 2)),
        );
        let size = limits::item_size(&item);
        assert!(size <= limits::MAX_ITEM_BYTES, "{size} bytes");
    }
}
