//! `auditlog`: the local server and the operator's CLI.

mod client;
mod console;
mod declared;
mod export;
mod keys;
mod object_flags;
mod operator;
mod policy;
mod policy_azure;
mod replay_set;
mod serve;
mod settings;
mod signing_keys;
mod streams;
mod verify;

use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use tracing_subscriber::EnvFilter;

use crate::operator::Recorder;

// Ingest builds and drops a JSON tree per event: a faster allocator is the cheapest large win
// (see the ingest benchmark, which uses the same allocator).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "auditlog",
    version,
    about = "Audit-log service: ingest, store, query"
)]
struct Cli {
    /// Log line format on stderr.
    #[arg(
        long,
        global = true,
        env = "AUDITLOG_LOG_FORMAT",
        value_enum,
        default_value = "json"
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Json,
    Text,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the API locally on the embedded store.
    Serve(serve::ServeArgs),
    /// Manage API keys.
    Keys {
        #[command(flatten)]
        store: settings::StoreArgs,
        #[command(flatten)]
        audit: operator::AuditArgs,
        #[command(subcommand)]
        command: keys::KeysCommand,
    },
    /// Send an event (or a JSON file) to a running service and print the answer.
    Send(client::SendArgs),
    /// Query a running service's events.
    Query(client::QueryArgs),
    /// Print IAM policies for a customer's bucket (bucket policy, or a role's trust policy).
    Policy {
        #[command(subcommand)]
        command: policy::PolicyCommand,
    },
    /// Create the DynamoDB tables (events with its index and TTL, keys, exports) named by
    /// AUDITLOG_EVENTS_TABLE, AUDITLOG_KEYS_TABLE and AUDITLOG_EXPORTS_TABLE, for DynamoDB Local
    /// or a hand-made setup;
    /// deployed stacks get them from template.yaml. Existing tables are left as they are.
    Tables {
        #[command(subcommand)]
        command: TablesCommand,
    },
    /// Manage export destinations (S3 buckets or local directories) and see their health.
    Destinations {
        #[command(flatten)]
        store: settings::StoreArgs,
        #[command(flatten)]
        audit: operator::AuditArgs,
        #[command(subcommand)]
        command: export::DestinationsCommand,
    },
    /// Add stream destinations (webhooks, Splunk, Datadog, Elasticsearch), pause, resume and
    /// replay them, see their status, or deliver now.
    Streams {
        #[command(flatten)]
        store: settings::StoreArgs,
        #[command(flatten)]
        audit: operator::AuditArgs,
        #[command(subcommand)]
        command: streams::StreamsCommand,
    },
    /// Export every destination's closed windows now and exit (the same pass the schedule
    /// runs). Exits 1 when a destination failed.
    Export {
        #[command(flatten)]
        store: settings::StoreArgs,
        #[command(flatten)]
        export: settings::ExportArgs,
        #[command(flatten)]
        api: settings::ApiArgs,
    },
    /// Check exported streams, from a local copy or straight from S3: line hashes, sequence
    /// continuity, object summaries and links, signed digests, receipts. Exits 1 on any
    /// problem.
    Verify(verify::VerifyArgs),
    /// The Ed25519 keys that sign export digests: list, rotate, print the public keys.
    SigningKeys {
        #[command(flatten)]
        store: settings::StoreArgs,
        #[command(subcommand)]
        command: signing_keys::SigningKeysCommand,
    },
    /// Print a one-time link that opens the console on a tenant's events (made in the store;
    /// no API key needed).
    Console {
        #[command(flatten)]
        store: settings::StoreArgs,
        #[command(flatten)]
        audit: operator::AuditArgs,
        #[command(flatten)]
        args: console::ConsoleArgs,
    },
    /// Print the OpenAPI 3.1 document of the HTTP API (what `GET /v1/openapi.json` serves;
    /// docs/openapi.json is this output).
    Openapi,
    /// Delete expired events now (the same pass the schedule runs).
    Purge {
        #[command(flatten)]
        store: settings::StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
enum TablesCommand {
    /// Create any missing table, and switch TTL on.
    Create,
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_env("AUDITLOG_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init(),
        LogFormat::Text => builder.init(),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    match run(cli.command).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(command: Command) -> anyhow::Result<bool> {
    match command {
        Command::Serve(args) => serve::run(args).await.map(|()| true),
        Command::Keys {
            store,
            audit,
            command,
        } => {
            let opened = store.open().await?;
            keys::run(opened.store.as_ref(), &Recorder::new(&audit), command)
                .await
                .map(|()| true)
        }
        Command::Send(args) => client::send(args).await,
        Command::Query(args) => client::query(args).await.map(|()| true),
        Command::Policy { command } => policy::run(command).map(|()| true),
        Command::Verify(args) => verify::run(args).await,
        Command::SigningKeys { store, command } => {
            let opened = store.open().await?;
            signing_keys::run(opened.store.as_ref(), command)
                .await
                .map(|()| true)
        }
        Command::Tables {
            command: TablesCommand::Create,
        } => {
            let store = auditlog_aws::DynamoStore::from_env()
                .await
                .map_err(anyhow::Error::msg)?;
            auditlog_aws::tables::create_tables(store.client(), store.config())
                .await
                .map_err(anyhow::Error::msg)?;
            println!(
                "tables ready: {} (TTL on {}), {}, {}",
                store.config().events_table,
                auditlog_aws::layout::TTL_ATTRIBUTE,
                store.config().keys_table,
                store.config().exports_table
            );
            Ok(true)
        }
        Command::Destinations {
            store,
            audit,
            command,
        } => {
            let opened = store.open().await?;
            export::destinations(opened.store.as_ref(), &Recorder::new(&audit), command).await
        }
        Command::Streams {
            store,
            audit,
            command,
        } => {
            let opened = store.open().await?;
            streams::run(opened.store, &Recorder::new(&audit), command).await
        }
        Command::Export { store, export, api } => {
            let opened = store.open().await?;
            export::export_once(opened.store, &export, &api).await
        }
        Command::Console { store, audit, args } => {
            let opened = store.open().await?;
            console::run(opened.store.as_ref(), &Recorder::new(&audit), args)
                .await
                .map(|()| true)
        }
        Command::Openapi => {
            println!("{}", auditlog_http::openapi::DOCUMENT.as_str());
            Ok(true)
        }
        Command::Purge { store } => {
            let opened = store.open().await.context("cannot open the store")?;
            let n = serve::purge_now(opened.store.as_ref()).await?;
            println!("purged {n} expired events");
            Ok(true)
        }
    }
}
