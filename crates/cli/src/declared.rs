//! Destinations declared in the environment or a file, for on-prem installs that never call
//! the API: `auditlog serve` reads them at start, registers each the first time, and afterwards
//! checks that the stored one is the same. A bad declaration stops the start with a message
//! naming the variable and each bad field by JSON pointer.
//!
//! `AUDITLOG_DESTINATION` holds the declaration as JSON, or `AUDITLOG_DESTINATION_FILE` names a
//! file holding it (a mounted ConfigMap, say): one declaration, or an array of them.
//!
//! ```json
//! [{"id": "dst_onprem", "tenant": "acme",
//!   "target": {"kind": "s3", "bucket": "audit", "prefix": "user-events-audit/",
//!              "compatible": {"endpoint": "https://minio.internal:9000",
//!                             "access_key_id": "AKIA...",
//!                             "secret_access_key": {"file": "/run/secrets/minio"}}},
//!   "compression": "zstd"},
//!  {"id": "dst_siem", "tenant": "acme",
//!   "stream": {"splunk": {"url": "https://splunk.internal:8088",
//!                         "token_file": "/run/secrets/hec/token"},
//!              "format": "ocsf"}}]
//! ```
//!
//! `target` is an object store (`s3`, `azure`, `directory`) in the form `auditlog destinations
//! list` prints, with `compression` (`gzip`, the default, or `zstd`) beside it; `stream` is the body of `POST /v1/streams` (docs/streams.md), read as the
//! operator's `auditlog streams add` reads it. Credentials are references only.

use anyhow::bail;
use auditlog_core::export::{
    Destination, GivenOptions, ObjectOptions, Target, check_azure_target, check_s3_target,
    normalize_prefix,
};
use auditlog_core::keys::validate_tenant;
use auditlog_core::self_audit::{SelfAction, SelfEvent};
use auditlog_core::store::ServiceStore;
use auditlog_core::stream::address::AddressPolicy;
use auditlog_core::stream::target::{Author, stream_settings};
use clap::Args;
use serde::Deserialize;
use serde_json::Value;

use crate::operator::{Recorder, now};

/// More than this many declarations is a mistake, not an install.
const MAX_DECLARATIONS: usize = 32;

#[derive(Debug, Clone, Args)]
pub struct DeclaredArgs {
    /// Destinations declared as JSON, one or an array (see the README, on-prem): registered at
    /// start, then checked against the stored ones at every start.
    #[arg(
        long,
        env = "AUDITLOG_DESTINATION",
        conflicts_with = "destination_file"
    )]
    pub destination: Option<String>,
    /// A file holding that JSON declaration.
    #[arg(long, env = "AUDITLOG_DESTINATION_FILE")]
    pub destination_file: Option<std::path::PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Declaration {
    /// Default: `dst_{tenant}_declared` for an object store, `dst_{tenant}_declared_stream` for
    /// a stream.
    id: Option<String>,
    tenant: String,
    target: Option<Target>,
    /// An object store's: `gzip` (default) or `zstd`.
    compression: Option<Value>,
    /// An object store's filter (a stream's is inside `stream`).
    filter: Option<Value>,
    /// An object store's line format: `v1` (default), `ocsf`, `ecs`.
    format: Option<Value>,
    /// An object store's OCSF class rules, with `format: ocsf`.
    ocsf_classes: Option<Value>,
    stream: Option<Value>,
}

/// The declared destinations, checked, with the variable they came from.
pub struct Declared {
    pub destinations: Vec<Destination>,
    pub variable: &'static str,
}

impl DeclaredArgs {
    /// The declared destinations, checked; `None` when none is declared.
    pub fn read(&self, policy: AddressPolicy) -> anyhow::Result<Option<Declared>> {
        let (text, variable) = match (&self.destination, &self.destination_file) {
            (Some(text), _) => (text.clone(), "AUDITLOG_DESTINATION"),
            (None, Some(path)) => match std::fs::read_to_string(path) {
                Ok(text) => (text, "AUDITLOG_DESTINATION_FILE"),
                Err(e) => bail!(
                    "AUDITLOG_DESTINATION_FILE: cannot read {}: {e}",
                    path.display()
                ),
            },
            (None, None) => return Ok(None),
        };
        let value: Value = serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{variable}: not a destination declaration: {e}"))?;
        let items: Vec<(String, Value)> = match value {
            Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| (format!("/{i}"), item))
                .collect(),
            other => vec![(String::new(), other)],
        };
        if items.is_empty() || items.len() > MAX_DECLARATIONS {
            bail!("{variable}: declare 1 to {MAX_DECLARATIONS} destinations");
        }
        let mut destinations = Vec::new();
        let mut problems = Vec::new();
        for (base, item) in items {
            match serde_json::from_value::<Declaration>(item) {
                Ok(declared) => match destination(declared, &base, policy) {
                    Ok(destination) => destinations.push((base, destination)),
                    Err(found) => problems.extend(found),
                },
                Err(e) => problems.push(format!(
                    "  {}: not a destination declaration: {e}",
                    if base.is_empty() { "/" } else { &base }
                )),
            }
        }
        for (i, (base, d)) in destinations.iter().enumerate() {
            if let Some((first, _)) = destinations[..i].iter().find(|(_, o)| o.id == d.id) {
                problems.push(format!(
                    "  {base}/id: `{}` is declared twice (also at {first})",
                    d.id
                ));
            }
        }
        if !problems.is_empty() {
            bail!(
                "{variable}: the declared destination is not valid:\n{}",
                problems.join("\n")
            );
        }
        Ok(Some(Declared {
            destinations: destinations.into_iter().map(|(_, d)| d).collect(),
            variable,
        }))
    }
}

/// One declaration as a destination, or every problem of it, each named by its JSON pointer
/// under `base` (the declaration's place in an array).
fn destination(
    mut declared: Declaration,
    base: &str,
    policy: AddressPolicy,
) -> Result<Destination, Vec<String>> {
    let mut problems = Vec::new();
    if let Err(e) = validate_tenant(&declared.tenant) {
        problems.push(format!("  {base}/tenant: {e}"));
    }
    if let Some(id) = &declared.id
        && (id.is_empty()
            || id.len() > 128
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
    {
        problems.push(format!(
            "  {base}/id: 1 to 128 of letters, digits, `_` and `-`"
        ));
    }
    let (target, default_id) = declared_target(&mut declared, base, policy, &mut problems);
    let given = GivenOptions {
        compression: declared.compression.as_ref(),
        filter: declared.filter.as_ref(),
        format: declared.format.as_ref(),
        ocsf_classes: declared.ocsf_classes.as_ref(),
    };
    let options = ObjectOptions::read(given, base).unwrap_or_else(|errors| {
        problems.extend(
            errors
                .into_iter()
                .map(|e| format!("  {}: {}", e.pointer, e.message)),
        );
        ObjectOptions::default()
    });
    match target {
        Some(target) if problems.is_empty() => {
            let id = declared
                .id
                .unwrap_or_else(|| format!("dst_{}_{default_id}", declared.tenant));
            Ok(Destination::new(id, declared.tenant, target, now()).with_options(options))
        }
        _ => Err(problems),
    }
}

/// What a declaration delivers to (an object store or a stream) and the default id's ending;
/// `None` when it cannot be read, with the problems added.
fn declared_target(
    declared: &mut Declaration,
    base: &str,
    policy: AddressPolicy,
    problems: &mut Vec<String>,
) -> (Option<Target>, &'static str) {
    match (declared.target.take(), declared.stream.take()) {
        (Some(target), None) => {
            let found = check_store_target(&target);
            problems.extend(
                found
                    .into_iter()
                    .map(|(pointer, message)| format!("  {base}/target{pointer}: {message}")),
            );
            (Some(target), "declared")
        }
        (None, Some(_)) if declared.compression.is_some() => {
            problems.push(format!(
                "  {base}/compression: only an object store's objects are compressed as declared; a stream sends what its target's protocol takes"
            ));
            (None, "")
        }
        (None, Some(_))
            if declared.filter.is_some()
                || declared.format.is_some()
                || declared.ocsf_classes.is_some() =>
        {
            problems.push(format!(
                "  {base}/stream: a stream's filter, format and OCSF class rules go inside `stream`"
            ));
            (None, "")
        }
        (None, Some(body)) => match stream_settings(&body, Author::Operator, policy) {
            Ok(settings) => (Some(Target::Stream(Box::new(settings))), "declared_stream"),
            Err(found) => {
                problems.extend(
                    found
                        .into_iter()
                        .map(|e| format!("  {base}/stream{}: {}", e.pointer, e.message)),
                );
                (None, "")
            }
        },
        (Some(_), Some(_)) => {
            problems.push(format!(
                "  {base}/stream: declare `target` (an object store) or `stream`, not both"
            ));
            (None, "")
        }
        (None, None) => {
            problems.push(format!(
                "  {base}/target: missing: declare `target` (an object store) or `stream` (a SIEM or webhook)"
            ));
            (None, "")
        }
    }
}

/// An object store's problems, by pointer under `/target`.
fn check_store_target(target: &Target) -> Vec<(String, String)> {
    match target {
        Target::S3(s3) => check_s3_target(s3),
        Target::Azure(azure) => check_azure_target(azure),
        Target::Directory { path, prefix } => {
            let mut found = Vec::new();
            if !path.starts_with('/') {
                found.push(("/path".to_string(), "an absolute path".to_string()));
            }
            if let Err(e) = normalize_prefix(prefix) {
                found.push(("/prefix".to_string(), e.to_string()));
            }
            found
        }
        Target::Stream(_) => vec![(
            "/kind".to_string(),
            "declare a stream under `stream`, as the body of `POST /v1/streams`".to_string(),
        )],
    }
}

/// Registers `declared` the first time; afterwards the stored destination must be the same.
/// A declaration never silently repoints an audit export.
pub async fn register(
    store: &dyn ServiceStore,
    recorder: &Recorder,
    declared: Destination,
    variable: &str,
) -> anyhow::Result<()> {
    let stored = store
        .list_destinations(None)
        .await?
        .into_iter()
        .find(|d| d.id == declared.id);
    match stored {
        Some(stored)
            if stored.tenant == declared.tenant
                && stored.target == declared.target
                && stored.compression == declared.compression
                && stored.filter == declared.filter
                && stored.format == declared.format
                && stored.ocsf_classes == declared.ocsf_classes =>
        {
            tracing::info!(destination = %declared.id, "the declared destination is registered");
            Ok(())
        }
        Some(_) => bail!(
            "{variable}: destination {} is stored with another tenant or target (or compression, filter or format) than declared; \
             remove it first (`auditlog destinations remove {}`) to declare it anew, or declare \
             another id",
            declared.id,
            declared.id
        ),
        None => {
            if let Target::Directory { path, .. } = &declared.target {
                std::fs::create_dir_all(path).map_err(|e| {
                    anyhow::anyhow!("{variable}: /target/path: cannot create {path}: {e}")
                })?;
            }
            let record = recorder.event(
                &declared.tenant,
                SelfEvent::new(SelfAction::DestinationAdded, recorder.caller())
                    .destination(&declared)
                    .detail("declared_in", variable),
            );
            store.add_destination(&declared, &record).await?;
            tracing::info!(destination = %declared.id, tenant = %declared.tenant, "registered the declared destination");
            Ok(())
        }
    }
}
