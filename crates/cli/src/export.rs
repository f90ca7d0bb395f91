//! `auditlog destinations add|list|remove|verify|status` and `auditlog export`, straight
//! against the store (either store), with the same exporter the schedule runs.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use auditlog_core::Timestamp;
use auditlog_core::event::Outcome;
use auditlog_core::export::{
    AzureCredential, AzureTarget, DEFAULT_PREFIX, Destination, ExportConfig, S3Compatible,
    S3Target, SecretRef, Target, check_azure_target, check_s3_target, normalize_prefix,
};
use auditlog_core::keys::validate_tenant;
use auditlog_core::self_audit::{SelfAction, SelfEvent};
use auditlog_core::store::{AppendStatus, ExportStore, ServiceStore};
use auditlog_export::engine::{PassReport, SinkFactory};
use auditlog_export::{Sinks, destination_status, export_pass, verify_destination};
use auditlog_http::destinations::{DestinationList, DestinationView, new_destination_id};
use auditlog_settings::{ApiArgs, ExportArgs};
use clap::{Args, Subcommand};
use serde_json::json;

use crate::object_flags::{OptionFlags, object_options};
use crate::operator::Recorder;

#[derive(Debug, Subcommand)]
pub enum DestinationsCommand {
    /// Add a destination for a tenant: an S3 bucket, an Azure container, or a local directory.
    Add(Box<AddArgs>),
    /// List destinations (all tenants, or one).
    List {
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Remove a destination; its export state is kept for the record.
    Remove { id: String },
    /// Write a test object (`_verify/auditlog-verify-test-{time}.json`) through the real path,
    /// role assumption included, and say precisely what failed.
    Verify { id: String },
    /// Last success, last error, objects and events delivered, backlog and its age.
    Status { id: String },
    /// Stop delivering (objects and digests, or a stream's records); the configuration and the
    /// checkpoint are kept.
    Pause { id: String },
    /// Deliver again from the checkpoint.
    Resume { id: String },
    /// An object store: add its replay set, which writes the events delivered from `--from`
    /// again under `{prefix}_replay/{set id}/`, never touching the original objects.
    Replay {
        id: String,
        /// RFC 3339: from the export window holding this time.
        #[arg(long)]
        from: String,
    },
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("where").required(true).args(["bucket", "dir", "azure_account"])))]
#[command(group(clap::ArgGroup::new("azure_credential").args(["azure_key_env", "azure_key_file", "azure_sas_env", "azure_sas_file", "azure_entra_id"])))]
pub struct AddArgs {
    #[arg(long)]
    tenant: String,
    /// The customer's bucket.
    #[arg(long)]
    bucket: Option<String>,
    /// The bucket's region (default: the exporter's region).
    #[arg(long, requires = "bucket")]
    region: Option<String>,
    /// Key prefix in the bucket or directory.
    #[arg(long, default_value = DEFAULT_PREFIX)]
    prefix: String,
    /// A role in the customer's account to assume for writing.
    #[arg(long, requires_all = ["bucket", "external_id"])]
    role_arn: Option<String>,
    /// The external id the role's trust policy demands.
    #[arg(long, requires = "role_arn")]
    external_id: Option<String>,
    /// Encrypt objects with this KMS key (SSE-KMS).
    #[arg(long, requires = "bucket")]
    kms_key: Option<String>,
    /// The account that must own the bucket (sent with every write).
    #[arg(long, requires = "bucket")]
    expected_bucket_owner: Option<String>,
    /// An S3-compatible store's endpoint (MinIO, Ceph, an on-prem appliance) instead of AWS;
    /// with --s3-access-key-id and --s3-secret-env or --s3-secret-file.
    #[arg(long, requires_all = ["bucket", "s3_access_key_id"])]
    s3_endpoint: Option<String>,
    /// Virtual-hosted addressing (`bucket.endpoint`) at the S3-compatible endpoint; default:
    /// path-style (`endpoint/bucket`), what most such stores expect.
    #[arg(long, requires = "s3_endpoint")]
    s3_virtual_hosted: bool,
    /// The S3-compatible store's access key id (not secret).
    #[arg(long, requires = "s3_endpoint")]
    s3_access_key_id: Option<String>,
    /// The environment variable holding its secret access key (on the exporter's host).
    #[arg(long, requires = "s3_endpoint", conflicts_with = "s3_secret_file")]
    s3_secret_env: Option<String>,
    /// The file holding its secret access key (an absolute path on the exporter's host).
    #[arg(long, requires = "s3_endpoint")]
    s3_secret_file: Option<String>,
    /// A local directory instead of S3.
    #[arg(long, conflicts_with_all = ["bucket", "azure_account"])]
    dir: Option<PathBuf>,
    /// An Azure storage account instead of S3 (with --azure-container and one credential).
    #[arg(long, conflicts_with = "bucket", requires_all = ["azure_container", "azure_credential"])]
    azure_account: Option<String>,
    /// The Azure container.
    #[arg(long, requires = "azure_account")]
    azure_container: Option<String>,
    /// The blob endpoint, for a sovereign cloud, a private endpoint or the Azurite emulator
    /// (`http://127.0.0.1:10000/devstoreaccount1`); default `https://ACCOUNT.blob.core.windows.net`.
    #[arg(long, requires = "azure_account")]
    azure_endpoint: Option<String>,
    /// The environment variable holding the account's shared key (on the exporter's host).
    #[arg(long, requires = "azure_account")]
    azure_key_env: Option<String>,
    /// The file holding the account's shared key (an absolute path on the exporter's host).
    #[arg(long, requires = "azure_account")]
    azure_key_file: Option<String>,
    /// The environment variable holding a SAS token for the container (permissions c, r, l).
    #[arg(long, requires = "azure_account")]
    azure_sas_env: Option<String>,
    /// The file holding a SAS token for the container (permissions c, r, l).
    #[arg(long, requires = "azure_account")]
    azure_sas_file: Option<String>,
    /// Authenticate with Microsoft Entra ID from the exporter's environment (workload identity,
    /// a client secret, or a managed identity).
    #[arg(long, requires = "azure_account")]
    azure_entra_id: bool,
    /// How the objects are compressed: gzip (`.ndjson.gz`, what every tool reads; the default)
    /// or zstd (`.ndjson.zst`: the same size, several times faster to write; Athena reads it).
    /// Fixed for the destination's life.
    #[arg(long, value_name = "gzip|zstd")]
    compression: Option<String>,
    /// Write only the events this filter admits, as JSON: `{"include": {"actions": ["user.*"],
    /// "outcomes": ["failure"]}, "exclude": {"actions": ["user.viewed"]}}`. Fixed for the
    /// destination's life; every object declares it (docs/export.md, Filters).
    #[arg(long)]
    filter: Option<String>,
    /// Each line as v1 (the stored event, the default), ocsf or ecs (with the event's id and
    /// receipt beside the record). Fixed for the destination's life.
    #[arg(long, value_name = "v1|ocsf|ecs")]
    format: Option<String>,
    /// OCSF class rules as JSON (`[{"prefix": "billing.", "class": "api_activity"}]`), with
    /// --format ocsf.
    #[arg(long)]
    ocsf_classes: Option<String>,
}

/// The Azure destination the flags describe; every bad field named by its flag.
fn azure_target_of(args: &AddArgs, account: &str, prefix: String) -> anyhow::Result<Target> {
    let credential = match (
        &args.azure_key_env,
        &args.azure_key_file,
        &args.azure_sas_env,
        &args.azure_sas_file,
    ) {
        (Some(name), ..) => AzureCredential::SharedKey {
            key: SecretRef::Env(name.clone()),
        },
        (_, Some(path), ..) => AzureCredential::SharedKey {
            key: SecretRef::File(path.clone()),
        },
        (_, _, Some(name), _) => AzureCredential::Sas {
            token: SecretRef::Env(name.clone()),
        },
        (_, _, _, Some(path)) => AzureCredential::Sas {
            token: SecretRef::File(path.clone()),
        },
        _ => AzureCredential::EntraId,
    };
    let target = AzureTarget {
        account: account.to_string(),
        container: args.azure_container.clone().unwrap_or_default(),
        prefix,
        endpoint: args.azure_endpoint.clone(),
        credential,
    };
    let flag = |pointer: &str| match pointer {
        "/account" => "--azure-account",
        "/container" => "--azure-container",
        "/endpoint" => "--azure-endpoint",
        "/prefix" => "--prefix",
        "/credential/key" => "--azure-key-env/--azure-key-file",
        _ => "--azure-sas-env/--azure-sas-file",
    };
    let problems = check_azure_target(&target);
    if !problems.is_empty() {
        let lines: Vec<String> = problems
            .iter()
            .map(|(pointer, reason)| format!("  {}: {reason}", flag(pointer)))
            .collect();
        bail!("the destination is not valid:\n{}", lines.join("\n"));
    }
    Ok(Target::Azure(target))
}

fn now() -> Timestamp {
    Timestamp(chrono::Utc::now().timestamp_millis())
}

fn print_json(value: &impl serde::Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("could not print the answer: {e}"),
    }
}

fn target_of(args: AddArgs) -> anyhow::Result<Target> {
    let prefix = normalize_prefix(&args.prefix).map_err(|e| anyhow::anyhow!("--prefix: {e}"))?;
    if let Some(account) = &args.azure_account {
        return azure_target_of(&args, account, prefix);
    }
    if let Some(dir) = args.dir {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let path = dir
            .canonicalize()
            .with_context(|| format!("cannot resolve {}", dir.display()))?;
        return Ok(Target::Directory {
            path: path.display().to_string(),
            prefix,
        });
    }
    let target = S3Target {
        bucket: args.bucket.unwrap_or_default(),
        region: args.region,
        prefix,
        role_arn: args.role_arn,
        external_id: args.external_id,
        kms_key_id: args.kms_key,
        expected_bucket_owner: args.expected_bucket_owner,
        compatible: args.s3_endpoint.map(|endpoint| S3Compatible {
            endpoint,
            path_style: !args.s3_virtual_hosted,
            access_key_id: args.s3_access_key_id.unwrap_or_default(),
            secret_access_key: match (args.s3_secret_env, args.s3_secret_file) {
                (Some(name), _) => SecretRef::Env(name),
                (None, Some(path)) => SecretRef::File(path),
                (None, None) => SecretRef::Env(String::new()),
            },
        }),
    };
    let problems = check_s3_target(&target);
    if !problems.is_empty() {
        let lines: Vec<String> = problems
            .iter()
            .map(|(pointer, reason)| {
                let flag = match pointer.as_str() {
                    "/compatible/endpoint" => "s3-endpoint".to_string(),
                    "/compatible/access_key_id" => "s3-access-key-id".to_string(),
                    "/compatible/secret_access_key" => "s3-secret-env/--s3-secret-file".to_string(),
                    "/kms_key_id" => "kms-key".to_string(),
                    other => other.trim_start_matches('/').replace('_', "-"),
                };
                format!("  --{flag}: {reason}")
            })
            .collect();
        bail!("the destination is not valid:\n{}", lines.join("\n"));
    }
    Ok(Target::S3(target))
}

pub(crate) async fn find(store: &dyn ServiceStore, id: &str) -> anyhow::Result<Destination> {
    store
        .list_destinations(None)
        .await?
        .into_iter()
        .find(|d| d.id == id)
        .with_context(|| format!("no destination {id}; `auditlog destinations list` shows them"))
}

/// Returns whether the command succeeded (verify: the write went through).
pub async fn destinations(
    store: &dyn ServiceStore,
    recorder: &Recorder,
    command: DestinationsCommand,
) -> anyhow::Result<bool> {
    match command {
        DestinationsCommand::Add(args) => add(store, recorder, *args).await,
        DestinationsCommand::List { tenant } => {
            let list = store.list_destinations(tenant.as_deref()).await?;
            print_json(&DestinationList::of(&list));
            Ok(true)
        }
        DestinationsCommand::Remove { id } => {
            let destination = find(store, &id).await?;
            let record = recorder.event(
                &destination.tenant,
                SelfEvent::new(SelfAction::DestinationRemoved, recorder.caller())
                    .destination(&destination),
            );
            if !store.remove_destination(&id, &record).await? {
                bail!("no destination {id}");
            }
            println!("removed {id}");
            Ok(true)
        }
        DestinationsCommand::Verify { id } => verify(store, recorder, &id).await,
        DestinationsCommand::Status { id } => {
            let destination = find(store, &id).await?;
            let export_store: &dyn ExportStore = store;
            print_json(&destination_status(export_store, &destination, now()).await?);
            Ok(true)
        }
        DestinationsCommand::Pause { id } => {
            crate::streams::pause_or_resume(store, recorder, &id, true).await
        }
        DestinationsCommand::Resume { id } => {
            crate::streams::pause_or_resume(store, recorder, &id, false).await
        }
        DestinationsCommand::Replay { id, from } => {
            crate::replay_set::replay(store, recorder, &id, &from).await
        }
    }
}

/// Adds a destination from the command line's flags, recorded in the tenant's log.
async fn add(store: &dyn ServiceStore, recorder: &Recorder, args: AddArgs) -> anyhow::Result<bool> {
    validate_tenant(&args.tenant).map_err(anyhow::Error::msg)?;
    let tenant = args.tenant.clone();
    let options = object_options(&OptionFlags {
        compression: args.compression.as_deref(),
        filter: args.filter.as_deref(),
        format: args.format.as_deref(),
        ocsf_classes: args.ocsf_classes.as_deref(),
    })?;
    let destination = Destination::new(new_destination_id(), tenant, target_of(args)?, now())
        .with_options(options);
    let record = recorder.event(
        &destination.tenant,
        SelfEvent::new(SelfAction::DestinationAdded, recorder.caller()).destination(&destination),
    );
    store.add_destination(&destination, &record).await?;
    print_json(&DestinationView::of(&destination));
    Ok(true)
}

/// Writes a verification object through the destination's real path and records the result
/// in the tenant's log; whether the write went through.
async fn verify(store: &dyn ServiceStore, recorder: &Recorder, id: &str) -> anyhow::Result<bool> {
    let destination = find(store, id).await?;
    // The AWS configuration is loaded only for an S3 destination (`Sinks::lazy`).
    let sinks = Sinks::lazy();
    let sink_name = sinks.sink_for(&destination).await?.describe();
    let verified = SelfEvent::new(SelfAction::DestinationVerified, recorder.caller())
        .destination(&destination);
    let (answer, record) = match verify_destination(&sinks, &destination, now()).await {
        Ok(key) => (
            json!({"ok": true, "destination": id, "wrote": key, "to": sink_name}),
            verified.detail("wrote", key),
        ),
        Err(e) => {
            let (message, hint) = match &e {
                auditlog_export::sink::SinkError::Failed { message, hint } => {
                    (message.clone(), hint.clone())
                }
                other => (other.to_string(), None),
            };
            let record = verified
                .outcome(Outcome::Failure)
                .detail("error", message.clone());
            (
                json!({"ok": false, "destination": id, "error": message, "hint": hint}),
                record,
            )
        }
    };
    let ok = answer["ok"] == true;
    let record = recorder.event(&destination.tenant, record);
    let statuses = store
        .append_events(&destination.tenant, std::slice::from_ref(&record), now())
        .await
        .context("the verification could not be recorded in the tenant's log")?;
    if statuses != [AppendStatus::Stored] {
        bail!("the verification could not be recorded in the tenant's log: {statuses:?}");
    }
    print_json(&answer);
    Ok(ok)
}

/// This exporter's name in leases: unique per process.
pub fn exporter_name(kind: &str) -> String {
    format!("{kind}-{}-{}", std::process::id(), rand::random::<u32>())
}

/// The export settings, checked against the retention (events must not expire unexported).
pub fn export_config(
    export: &ExportArgs,
    api: &ApiArgs,
    kind: &str,
) -> anyhow::Result<ExportConfig> {
    export.check_retention(api.retention)?;
    Ok(export.export_config(&exporter_name(kind))?)
}

/// One pass over every destination, as the schedule runs it.
pub async fn run_pass(
    store: &dyn ServiceStore,
    sinks: &dyn SinkFactory,
    config: &ExportConfig,
) -> anyhow::Result<PassReport> {
    let export_store: &dyn ExportStore = store;
    Ok(export_pass(export_store, sinks, config, now()).await?)
}

/// `auditlog export`: one pass now; false when a destination failed.
pub async fn export_once(
    store: Arc<dyn ServiceStore>,
    export: &ExportArgs,
    api: &ApiArgs,
) -> anyhow::Result<bool> {
    let config = export_config(export, api, "cli")?;
    let sinks = Sinks::lazy();
    let report = run_pass(store.as_ref(), &sinks, &config).await?;
    print_json(&report.summary());
    Ok(report.failed() == 0)
}
