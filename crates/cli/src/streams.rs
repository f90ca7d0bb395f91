//! `auditlog streams`: the operator's controls of stream destinations, straight against the
//! store (add, pause, resume, replay, status), one delivery pass now (`deliver`), and the loop
//! `auditlog serve` runs. Every change is written with its self-audit record, as over the API.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use auditlog_core::export::machine;
use auditlog_core::export::{Destination, Target};
use auditlog_core::self_audit::{SelfAction, SelfEvent};
use auditlog_core::store::{ExportStore, ServiceStore, change_export, change_stream};
use auditlog_core::stream::delivery::{self, StreamConfig, StreamState};
use auditlog_core::stream::target::{Author, stream_settings};
use auditlog_core::time::parse_rfc3339;
use auditlog_export::deliver::{StreamClient, stream_pass, stream_status};
use auditlog_export::destination_status;
use auditlog_settings::StreamPolicyArgs;
use clap::Subcommand;
use serde_json::{Value, json};

use crate::operator::{Recorder, now};
use crate::settings::{ApiArgs, ExportArgs};

#[derive(Debug, Subcommand)]
pub enum StreamsCommand {
    /// Add a stream for a tenant, described as over the API (docs/streams.md); secrets as
    /// `*_env` (any variable) or `*_file` (an absolute path) references.
    Add {
        #[arg(long)]
        tenant: String,
        /// The stream as JSON: `{"webhook": {"url": ..., "secret_env": ...}, "format": ...}`.
        #[arg(long)]
        json: String,
        #[command(flatten)]
        policy: StreamPolicyArgs,
    },
    /// Stop sending; the configuration and checkpoint are kept (also `auditlog destinations
    /// pause`, for any destination).
    Pause { id: String },
    /// Send again from the checkpoint (after a pause or a stop).
    Resume { id: String },
    /// Deliver again every retained event received at or after `--from` (RFC 3339).
    Replay {
        id: String,
        #[arg(long)]
        from: String,
    },
    /// Condition, error and hint, checkpoint, counts, backlog and its retention warning.
    Status { id: String },
    /// Deliver every stream now, once (the pass `serve` runs on its interval). Exits 1 when a
    /// stream failed.
    Deliver(Box<DeliverArgs>),
}

#[derive(Debug, clap::Args)]
pub struct DeliverArgs {
    #[command(flatten)]
    export: ExportArgs,
    #[command(flatten)]
    api: ApiArgs,
}

fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

async fn find_stream(store: &dyn ServiceStore, id: &str) -> anyhow::Result<Destination> {
    let destination = crate::export::find(store, id).await?;
    if destination.target.is_object_store() {
        bail!("{id} is an object-store destination, not a stream");
    }
    Ok(destination)
}

/// Runs a `streams` command; `false` when it did not succeed (a pass with failures).
pub async fn run(
    store: Arc<dyn ServiceStore>,
    recorder: &Recorder,
    command: StreamsCommand,
) -> anyhow::Result<bool> {
    let retention_ms = recorder.retention_ms();
    type Change = Box<dyn Fn(&StreamState) -> StreamState>;
    let (id, action, change, from): (String, SelfAction, Change, Option<String>) = match command {
        StreamsCommand::Add {
            tenant,
            json,
            policy,
        } => return add(store.as_ref(), recorder, &tenant, &json, &policy).await,
        StreamsCommand::Status { id } => {
            let destination = find_stream(store.as_ref(), &id).await?;
            let export_store: &dyn ExportStore = store.as_ref();
            let status = stream_status(export_store, &destination, retention_ms, now()).await?;
            print_json(&json!(status));
            return Ok(true);
        }
        StreamsCommand::Deliver(args) => {
            return deliver_once(store, &args.export, &args.api).await;
        }
        StreamsCommand::Pause { id } => {
            return pause_or_resume(store.as_ref(), recorder, &id, true).await;
        }
        StreamsCommand::Resume { id } => {
            return pause_or_resume(store.as_ref(), recorder, &id, false).await;
        }
        StreamsCommand::Replay { id, from } => {
            let from = parse_rfc3339(&from)
                .map_err(|e| anyhow::anyhow!("--from: must be an RFC 3339 time: {e}"))?;
            (
                id,
                SelfAction::DestinationReplayed,
                Box::new(move |s: &StreamState| delivery::replay(s, from)),
                Some(from.to_rfc3339()),
            )
        }
    };
    let destination = find_stream(store.as_ref(), &id).await?;
    let mut record = SelfEvent::new(action, recorder.caller()).destination(&destination);
    if let Some(from) = from {
        record = record.detail("from", from);
    }
    let event = recorder.event(&destination.tenant, record);
    if change_stream(store.as_ref(), &destination.id, change, &event).await? {
        let export_store: &dyn ExportStore = store.as_ref();
        let status = stream_status(export_store, &destination, retention_ms, now()).await?;
        print_json(&json!(status));
        return Ok(true);
    }
    bail!("the stream's state kept changing under this command; run it again")
}

/// Pauses or resumes any destination: a stream's delivery state, or an object store's export
/// state, with the record of it; prints the status after.
pub async fn pause_or_resume(
    store: &dyn ServiceStore,
    recorder: &Recorder,
    id: &str,
    pause: bool,
) -> anyhow::Result<bool> {
    let destination = crate::export::find(store, id).await?;
    let action = if pause {
        SelfAction::DestinationPaused
    } else {
        SelfAction::DestinationResumed
    };
    let event = recorder.event(
        &destination.tenant,
        SelfEvent::new(action, recorder.caller()).destination(&destination),
    );
    let export_store: &dyn ExportStore = store;
    let id = &destination.id;
    let changed = match (destination.target.is_object_store(), pause) {
        (true, true) => change_export(store, id, machine::pause, &event).await?,
        (true, false) => change_export(store, id, machine::resume, &event).await?,
        (false, true) => change_stream(store, id, delivery::pause, &event).await?,
        (false, false) => change_stream(store, id, delivery::resume, &event).await?,
    };
    if changed {
        let status = if destination.target.is_object_store() {
            json!(destination_status(export_store, &destination, now()).await?)
        } else {
            json!(stream_status(export_store, &destination, recorder.retention_ms(), now()).await?)
        };
        print_json(&status);
        return Ok(true);
    }
    bail!("the destination's state kept changing under this command; run it again")
}

async fn add(
    store: &dyn ServiceStore,
    recorder: &Recorder,
    tenant: &str,
    text: &str,
    policy: &StreamPolicyArgs,
) -> anyhow::Result<bool> {
    let body: Value = serde_json::from_str(text).context("--json: not JSON")?;
    let settings = match stream_settings(&body, Author::Operator, policy.policy()) {
        Ok(settings) => settings,
        Err(problems) => {
            let lines: Vec<String> = problems
                .iter()
                .map(|p| format!("  --json {}: {}", p.pointer, p.message))
                .collect();
            bail!("the stream is not valid:\n{}", lines.join("\n"));
        }
    };
    let destination = Destination::new(
        auditlog_http::destinations::new_destination_id(),
        tenant.to_string(),
        Target::Stream(Box::new(settings)),
        now(),
    );
    let record = recorder.event(
        tenant,
        SelfEvent::new(SelfAction::DestinationAdded, recorder.caller()).destination(&destination),
    );
    store.add_destination(&destination, &record).await?;
    print_json(&json!(auditlog_http::destinations::DestinationView::of(
        &destination
    )));
    Ok(true)
}

/// The deliverer's client and configuration, from the settings.
pub fn deliverer(
    export: &ExportArgs,
    api: &ApiArgs,
    kind: &str,
) -> anyhow::Result<(StreamClient, StreamConfig)> {
    let client = StreamClient::new(api.stream_policy(), export.stream_timeout)?;
    let owner = crate::export::exporter_name(kind);
    Ok((client, export.stream_config(&owner)?))
}

async fn deliver_once(
    store: Arc<dyn ServiceStore>,
    export: &ExportArgs,
    api: &ApiArgs,
) -> anyhow::Result<bool> {
    let (client, config) = deliverer(export, api, "cli")?;
    let export_store: &dyn ExportStore = store.as_ref();
    let reports = stream_pass(export_store, &client, &config, now()).await?;
    print_json(&json!({ "streams": reports }));
    Ok(reports.iter().all(|r| r.error.is_none()))
}

/// `serve`'s loop: a delivery pass every `interval`, each within the configured budget.
pub async fn deliver_on_schedule(
    store: Arc<dyn ServiceStore>,
    client: StreamClient,
    config: StreamConfig,
    interval: Duration,
) {
    loop {
        let export_store: &dyn ExportStore = store.as_ref();
        match stream_pass(export_store, &client, &config, now()).await {
            Ok(reports) => {
                let delivered: u64 = reports.iter().map(|r| r.delivered).sum();
                if delivered > 0 || reports.iter().any(|r| r.error.is_some()) {
                    tracing::info!(streams = %json!(reports), "stream pass done");
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "stream pass failed; retried at the next interval")
            }
        }
        tokio::time::sleep(interval).await;
    }
}
