//! `auditlog send` and `auditlog query`: small HTTP clients for a running service.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::{Args, ValueEnum};
use serde_json::{Value, json};

#[derive(Debug, Clone, Args)]
pub struct ClientArgs {
    /// Base URL of the service.
    #[arg(long, env = "AUDITLOG_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// API key (prefer the environment variable: command lines are visible to other users).
    #[arg(long, env = "AUDITLOG_KEY", hide_env_values = true)]
    pub key: String,
}

#[derive(Debug, Args)]
pub struct SendArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// Send this file's JSON body as is (one event or {"events": [...]}); `-` reads stdin.
    #[arg(long, conflicts_with_all = ["action", "actor_id"])]
    pub file: Option<PathBuf>,
    /// The action (`auditlog.` actions are the service's own: a client cannot send them).
    #[arg(long, default_value = "cli.test")]
    pub action: String,
    #[arg(long, default_value = "auditlog-cli")]
    pub actor_id: String,
    #[arg(long)]
    pub id: Option<String>,
    #[arg(long)]
    pub outcome: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// Received at or after (RFC 3339 or epoch ms).
    #[arg(long)]
    pub from: Option<String>,
    /// Received before (RFC 3339 or epoch ms).
    #[arg(long)]
    pub to: Option<String>,
    /// Exact action, or a prefix such as `user.*`.
    #[arg(long)]
    pub action: Option<String>,
    #[arg(long)]
    pub actor_id: Option<String>,
    #[arg(long)]
    pub actor_email: Option<String>,
    #[arg(long)]
    pub target_id: Option<String>,
    #[arg(long)]
    pub outcome: Option<String>,
    #[arg(long)]
    pub source_service: Option<String>,
    /// Page size (1-1000).
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    /// asc (oldest first) or desc (newest first).
    #[arg(long, default_value = "asc")]
    pub order: String,
    /// Follow cursors until every matching event is printed.
    #[arg(long)]
    pub all: bool,
    #[arg(long, value_enum, default_value = "table")]
    pub format: OutputFormat,
}

fn http() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .context("cannot build HTTP client")
}

/// Returns whether every item was stored.
pub async fn send(args: SendArgs) -> anyhow::Result<bool> {
    let body = match &args.file {
        Some(path) if path.as_os_str() == "-" => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .context("cannot read stdin")?;
            text
        }
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?,
        None => {
            let mut event =
                json!({"action": args.action, "actor": {"id": args.actor_id, "type": "service"}});
            if let Some(id) = &args.id {
                event["id"] = json!(id);
            }
            if let Some(outcome) = &args.outcome {
                event["outcome"] = json!(outcome);
            }
            event.to_string()
        }
    };
    let url = format!("{}/v1/events", args.client.url.trim_end_matches('/'));
    let response = http()?
        .post(&url)
        .bearer_auth(&args.client.key)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let pretty = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or(text);
    println!("HTTP {status}");
    println!("{pretty}");
    Ok(status == reqwest::StatusCode::CREATED)
}

pub async fn query(args: QueryArgs) -> anyhow::Result<()> {
    let client = http()?;
    let base = format!("{}/v1/events", args.client.url.trim_end_matches('/'));
    let mut params: Vec<(&str, String)> = vec![
        ("limit", args.limit.to_string()),
        ("order", args.order.clone()),
    ];
    for (name, value) in [
        ("from", &args.from),
        ("to", &args.to),
        ("action", &args.action),
        ("actor_id", &args.actor_id),
        ("actor_email", &args.actor_email),
        ("target_id", &args.target_id),
        ("outcome", &args.outcome),
        ("source_service", &args.source_service),
    ] {
        if let Some(v) = value {
            params.push((name, v.clone()));
        }
    }
    if matches!(args.format, OutputFormat::Table) {
        println!(
            "{:<25} {:<28} {:<24} {:<8} ID",
            "RECEIVED", "ACTION", "ACTOR", "OUTCOME"
        );
    }
    let mut cursor: Option<String> = None;
    loop {
        let mut page_params = params.clone();
        if let Some(c) = &cursor {
            page_params.push(("cursor", c.clone()));
        }
        let response = client
            .get(&base)
            .bearer_auth(&args.client.key)
            .query(&page_params)
            .send()
            .await
            .with_context(|| format!("cannot reach {base}"))?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .context("the service answered with something that is not JSON")?;
        if !status.is_success() {
            bail!(
                "HTTP {status}: {}",
                serde_json::to_string_pretty(&body).unwrap_or_default()
            );
        }
        for event in body["events"].as_array().into_iter().flatten() {
            match args.format {
                OutputFormat::Json => println!("{event}"),
                OutputFormat::Table => println!(
                    "{:<25} {:<28} {:<24} {:<8} {}",
                    event["received_at"].as_str().unwrap_or(""),
                    event["action"].as_str().unwrap_or(""),
                    event["actor"]["id"].as_str().unwrap_or(""),
                    event["outcome"].as_str().unwrap_or(""),
                    event["id"].as_str().unwrap_or("")
                ),
            }
        }
        cursor = body["next_cursor"].as_str().map(str::to_string);
        if !args.all || cursor.is_none() {
            if let (false, Some(c)) = (args.all, &cursor) {
                eprintln!("more events: repeat with --all, or page on with cursor {c}");
            }
            return Ok(());
        }
    }
}
