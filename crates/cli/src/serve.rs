//! `auditlog serve`: the API on a TCP socket over the embedded store, with scheduled retention
//! and the exporter on its schedule (a pass after each window closes).

use std::net::SocketAddr;
use std::str::FromStr as _;
use std::sync::Arc;

use anyhow::Context as _;
use auditlog_core::Timestamp;
use auditlog_core::export::ExportConfig;
use auditlog_core::store::{PurgeExpired, ServiceStore, Store};
use auditlog_export::Sinks;
use auditlog_http::{AppState, router, system_clock};
use clap::Args;
use croner::Cron;

use crate::settings::{ApiArgs, ExportArgs, StoreArgs};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "AUDITLOG_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// When to delete expired events: a cron expression (minute hour day month weekday, UTC;
    /// a leading seconds field is allowed).
    #[arg(long, env = "AUDITLOG_PURGE_SCHEDULE", default_value = "0 3 * * *")]
    pub purge_schedule: String,
    /// When to export: a cron expression (UTC; with or without seconds: `0 0 */1 * * *` is
    /// hourly). Default: a pass as each window closes.
    #[arg(long, env = "AUDITLOG_EXPORT_SCHEDULE")]
    pub export_schedule: Option<String>,
    /// How often streams deliver: a pass every interval (events wait `AUDITLOG_STREAM_SETTLE`
    /// after they are received first).
    #[arg(long, env = "AUDITLOG_STREAM_INTERVAL", default_value = "5s", value_parser = auditlog_settings::parse_duration)]
    pub stream_interval: std::time::Duration,
    #[command(flatten)]
    pub declared: crate::declared::DeclaredArgs,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub api: ApiArgs,
    #[command(flatten)]
    pub export: ExportArgs,
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let schedule = Cron::from_str(&args.purge_schedule).map_err(|e| {
        anyhow::anyhow!(
            "AUDITLOG_PURGE_SCHEDULE `{}` is not a cron expression: {e}",
            args.purge_schedule
        )
    })?;
    let export_schedule = match &args.export_schedule {
        Some(expression) => Some(Cron::from_str(expression).map_err(|e| {
            anyhow::anyhow!("AUDITLOG_EXPORT_SCHEDULE `{expression}` is not a cron expression: {e}")
        })?),
        None => None,
    };
    let declared = args.declared.read(args.api.stream_policy())?;
    let export_config = crate::export::export_config(&args.export, &args.api, "serve")?;
    let (stream_client, stream_config) =
        crate::streams::deliverer(&args.export, &args.api, "serve")?;
    if args.stream_interval.is_zero() {
        anyhow::bail!("AUDITLOG_STREAM_INTERVAL must be positive");
    }
    let opened = args.store.open().await?;
    if let Some(declared) = declared {
        let recorder = crate::operator::Recorder::with_retention(args.api.retention);
        for destination in declared.destinations {
            crate::declared::register(
                opened.store.as_ref(),
                &recorder,
                destination,
                declared.variable,
            )
            .await?;
        }
    }
    let config = args.api.api_config(opened.cursor_secret)?;
    let store = opened.store.clone();
    if store
        .list_keys(None)
        .await
        .map(|k| k.is_empty())
        .unwrap_or(false)
    {
        tracing::warn!(
            "no API keys yet; create one with: auditlog keys create --data-dir {} --tenant demo --scopes write,read",
            args.store.data_dir.display()
        );
    }
    let state = AppState {
        store: store.clone(),
        config: Arc::new(config),
        clock: system_clock(),
    };
    tokio::spawn(purge_on_schedule(
        store.clone(),
        schedule,
        args.purge_schedule.clone(),
    ));

    tokio::spawn(export_on_schedule(
        store.clone(),
        Sinks::lazy(),
        export_config,
        export_schedule,
    ));
    tokio::spawn(crate::streams::deliver_on_schedule(
        store.clone(),
        stream_client,
        stream_config,
        args.stream_interval,
    ));

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let local = listener.local_addr()?;
    tracing::info!(
        address = %local,
        store = %opened.description,
        retention_s = args.api.retention.as_secs(),
        "auditlog listening on http://{local}"
    );
    // With the peer address, which self-audit records carry as the client's.
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("server failed")?;
    tracing::info!("stopped; every acknowledged event is on disk");
    Ok(())
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM; in-flight requests then finish before exit.
async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => tracing::info!("SIGINT received; shutting down"),
        _ = terminate => tracing::info!("SIGTERM received; shutting down"),
    }
}

async fn purge_on_schedule(store: Arc<dyn Store>, schedule: Cron, expression: String) {
    loop {
        let now = chrono::Utc::now();
        let next = match schedule.find_next_occurrence(&now, false) {
            Ok(next) => next,
            Err(e) => {
                tracing::error!(schedule = %expression, error = %e, "retention schedule has no next run; purging stops");
                return;
            }
        };
        let wait = (next - now).to_std().unwrap_or_default();
        tokio::time::sleep(wait).await;
        match purge_now(store.as_ref()).await {
            Ok(n) => tracing::info!(purged = n, "retention purge done"),
            Err(e) => {
                tracing::error!(error = %e, "retention purge failed; will retry at the next scheduled time")
            }
        }
    }
}

/// Runs an export pass at start, then each time a window closes (its end plus the grace).
async fn export_on_schedule(
    store: Arc<dyn ServiceStore>,
    sinks: Sinks,
    config: ExportConfig,
    schedule: Option<Cron>,
) {
    loop {
        match crate::export::run_pass(store.as_ref(), &sinks, &config).await {
            Ok(report) if report.failed() > 0 => {
                tracing::warn!(summary = %report.summary(), "export pass done with failures; see `auditlog destinations status`")
            }
            Ok(report) => tracing::info!(summary = %report.summary(), "export pass done"),
            Err(e) => tracing::error!(error = %e, "export pass failed; retried at the next window"),
        }
        let now = chrono::Utc::now();
        let next = match &schedule {
            // The declared schedule; windows still decide what is ready to export.
            Some(cron) => match cron.find_next_occurrence(&now, false) {
                Ok(next) => next.timestamp_millis(),
                Err(e) => {
                    tracing::error!(error = %e, "the export schedule has no next run; exporting stops");
                    return;
                }
            },
            // Windows close at k × window + grace: wake at the next of those instants.
            None => {
                let (now, window) = (now.timestamp_millis(), config.window_ms.max(1000));
                ((now - config.grace_ms).div_euclid(window) + 1) * window + config.grace_ms
            }
        };
        let wait = next - chrono::Utc::now().timestamp_millis();
        tokio::time::sleep(std::time::Duration::from_millis(
            u64::try_from(wait).unwrap_or(0).max(10),
        ))
        .await;
    }
}

pub async fn purge_now(store: &dyn PurgeExpired) -> anyhow::Result<u64> {
    let now = Timestamp(chrono::Utc::now().timestamp_millis());
    Ok(store.purge_expired(now).await?)
}
