//! `auditlog-export`: the export Lambda's entry point. Settings, the DynamoDB store and the
//! sinks (with their S3 clients and cached role credentials) are built once per cold start;
//! each invocation runs [`auditlog_export_fn::handle`].

use std::sync::Arc;

use anyhow::Context as _;
use auditlog_aws::DynamoStore;
use auditlog_core::Timestamp;
use auditlog_export::Sinks;
use auditlog_export::deliver::StreamClient;
use auditlog_export_fn::{Exporter, Streams, handle};
use auditlog_settings::{ApiArgs, ExportArgs};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    auditlog_settings::init_lambda_logging();
    let exporter = match init().await {
        Ok(exporter) => Arc::new(exporter),
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "export function cannot start");
            return Err(e.into());
        }
    };
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let exporter = exporter.clone();
        async move {
            let now = Timestamp(chrono::Utc::now().timestamp_millis());
            handle(&exporter, &event.payload, &event.context.request_id, now)
                .await
                .map_err(|e| lambda_runtime::Diagnostic {
                    error_type: e.kind().to_string(),
                    error_message: e.to_string(),
                })
        }
    }))
    .await
}

async fn init() -> anyhow::Result<Exporter> {
    let api: ApiArgs = auditlog_settings::from_env().context("invalid settings")?;
    let export: ExportArgs = auditlog_settings::from_env().context("invalid export settings")?;
    export.check_retention(api.retention)?;
    let owner = format!(
        "{}-{}",
        std::env::var("AWS_LAMBDA_LOG_STREAM_NAME").unwrap_or_else(|_| "export".into()),
        rand::random::<u32>()
    );
    let config = export.export_config(&owner)?;
    let store = DynamoStore::from_env().await.map_err(anyhow::Error::msg)?;
    tracing::info!(
        events_table = %store.config().events_table,
        exports_table = %store.config().exports_table,
        window_ms = config.window_ms,
        grace_ms = config.grace_ms,
        "export function ready"
    );
    let streams = Streams {
        client: StreamClient::new(api.stream_policy(), export.stream_timeout)?,
        config: export.stream_config(&owner)?,
    };
    Ok(Exporter {
        store: Arc::new(store),
        sinks: Arc::new(Sinks::from_env().await),
        config,
        streams,
    })
}
