//! Settings shared by the subcommands: flags, each with an `AUDITLOG_*` environment variable.
//! The README's settings table lists the same names and defaults.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use auditlog_core::redact::Redactor;
use auditlog_core::validate::Limits;
use clap::Args;

pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|e| format!("`{text}` is not a duration such as 90d, 12h, 5m, 30s: {e}"))
}

#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Which store: the embedded SQLite database (local mode) or DynamoDB (the deployed tables,
    /// named by AUDITLOG_EVENTS_TABLE and AUDITLOG_KEYS_TABLE, as the functions read them).
    #[arg(long, env = "AUDITLOG_STORE", value_enum, default_value = "sqlite")]
    pub store: StoreKind,
    /// Directory of the embedded database (created on first start).
    #[arg(long, env = "AUDITLOG_DATA_DIR", default_value = "./auditlog-data")]
    pub data_dir: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreKind {
    Sqlite,
    Dynamodb,
}

/// An opened store, and the secret that signs its cursors.
pub struct OpenedStore {
    pub store: std::sync::Arc<dyn auditlog_core::store::Store>,
    pub cursor_secret: [u8; 32],
    pub description: String,
}

impl StoreArgs {
    pub async fn open(&self) -> anyhow::Result<OpenedStore> {
        match self.store {
            StoreKind::Sqlite => {
                let store = auditlog_local::SqliteStore::open(&self.data_dir)?;
                let cursor_secret = store.cursor_secret()?;
                Ok(OpenedStore {
                    description: format!("sqlite:{}", self.data_dir.display()),
                    store: std::sync::Arc::new(store),
                    cursor_secret,
                })
            }
            StoreKind::Dynamodb => {
                let store = auditlog_aws::DynamoStore::from_env()
                    .await
                    .map_err(anyhow::Error::msg)?;
                let cursor_secret = store
                    .cursor_secret()
                    .await
                    .context("cannot reach the DynamoDB events table")?;
                Ok(OpenedStore {
                    description: format!(
                        "dynamodb:{},{}",
                        store.config().events_table,
                        store.config().keys_table
                    ),
                    store: std::sync::Arc::new(store),
                    cursor_secret,
                })
            }
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    /// How long events are kept after they are received.
    #[arg(long, env = "AUDITLOG_RETENTION", default_value = "90d", value_parser = parse_duration)]
    pub retention: Duration,
    /// Largest stored event, in bytes (compact JSON).
    #[arg(long, env = "AUDITLOG_MAX_EVENT_BYTES", default_value_t = 32 * 1024)]
    pub max_event_bytes: usize,
    /// Most events in one request.
    #[arg(long, env = "AUDITLOG_MAX_BATCH_EVENTS", default_value_t = 500)]
    pub max_batch_events: usize,
    /// Largest request body, in bytes.
    #[arg(long, env = "AUDITLOG_MAX_REQUEST_BYTES", default_value_t = 1024 * 1024)]
    pub max_request_bytes: usize,
    /// Largest `metadata` object, and `request.params` object, in bytes (compact JSON).
    #[arg(long, env = "AUDITLOG_MAX_FREE_JSON_BYTES", default_value_t = 16 * 1024)]
    pub max_free_json_bytes: usize,
    /// How far in the future `occurred_at` may be (client clock skew).
    #[arg(long, env = "AUDITLOG_MAX_CLOCK_SKEW", default_value = "5m", value_parser = parse_duration)]
    pub max_clock_skew: Duration,
    /// Extra secret-looking key patterns to mask, comma-separated (added to the built-in list).
    #[arg(
        long,
        env = "AUDITLOG_REDACT_KEYS",
        default_value = "",
        value_delimiter = ','
    )]
    pub redact_keys: Vec<String>,
}

impl ApiArgs {
    pub fn limits(&self) -> anyhow::Result<Limits> {
        if self.max_event_bytes == 0 || self.max_batch_events == 0 || self.max_request_bytes == 0 {
            bail!("size and count limits must be positive");
        }
        if self.max_event_bytes > self.max_request_bytes {
            bail!("AUDITLOG_MAX_EVENT_BYTES cannot exceed AUDITLOG_MAX_REQUEST_BYTES");
        }
        Ok(Limits {
            max_event_bytes: self.max_event_bytes,
            max_events_per_request: self.max_batch_events,
            max_request_bytes: self.max_request_bytes,
            max_free_json_bytes: self.max_free_json_bytes,
            max_future_skew_ms: i64::try_from(self.max_clock_skew.as_millis())
                .context("clock skew too large")?,
            ..Limits::default()
        })
    }

    pub fn redactor(&self) -> Redactor {
        Redactor::with_extra_patterns(&self.redact_keys)
    }

    pub fn retention_ms(&self) -> anyhow::Result<i64> {
        let ms = i64::try_from(self.retention.as_millis()).context("retention too large")?;
        if ms < 1000 {
            bail!("AUDITLOG_RETENTION must be at least 1s");
        }
        Ok(ms)
    }
}
