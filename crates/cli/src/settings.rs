//! Settings shared by the subcommands: flags, each with an `AUDITLOG_*` environment variable.
//! The README's settings table lists the same names and defaults.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;

pub use auditlog_settings::{ApiArgs, ExportArgs};

#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Which store: the embedded SQLite database (local mode) or DynamoDB (the deployed tables,
    /// named by AUDITLOG_EVENTS_TABLE, AUDITLOG_KEYS_TABLE and AUDITLOG_EXPORTS_TABLE, as the
    /// functions read them).
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
    pub store: std::sync::Arc<dyn auditlog_core::store::ServiceStore>,
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
                        "dynamodb:{},{},{}",
                        store.config().events_table,
                        store.config().keys_table,
                        store.config().exports_table
                    ),
                    store: std::sync::Arc::new(store),
                    cursor_secret,
                })
            }
        }
    }
}
