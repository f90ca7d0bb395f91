//! `auditlog-ingest`: the Lambda entry point. Everything expensive (settings, the SDK client,
//! the cursor secret, the router) is built once per cold start; each invocation only runs
//! [`auditlog_ingest::handle`].

use std::sync::Arc;

use anyhow::Context as _;
use auditlog_aws::DynamoStore;
use auditlog_http::{AppState, router, system_clock};
use auditlog_settings::ApiArgs;
use lambda_http::{Request, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    auditlog_settings::init_lambda_logging();
    let router = match init().await {
        Ok(router) => router,
        Err(e) => {
            // Lambda reports an init failure as a failed invocation; the log says why.
            tracing::error!(error = %format!("{e:#}"), "ingest function cannot start");
            return Err(e.into());
        }
    };
    lambda_http::run(service_fn(move |request: Request| {
        auditlog_ingest::handle(router.clone(), request)
    }))
    .await
}

async fn init() -> anyhow::Result<axum::Router> {
    let api: ApiArgs = auditlog_settings::from_env().context("invalid settings")?;
    auditlog_ingest::check_lambda_limits(&api)?;
    let store = DynamoStore::from_env().await.map_err(anyhow::Error::msg)?;
    let cursor_secret = store
        .cursor_secret()
        .await
        .context("cannot read the cursor secret from the events table")?;
    tracing::info!(
        events_table = %store.config().events_table,
        keys_table = %store.config().keys_table,
        "ingest function ready"
    );
    let state = AppState {
        store: Arc::new(store),
        config: Arc::new(api.api_config(cursor_secret)?),
        clock: system_clock(),
    };
    Ok(router(state))
}
