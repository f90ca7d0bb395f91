//! A destination declared in the environment or a file, for on-prem installs that never call
//! the API: `auditlog serve` reads it at start, registers it the first time, and afterwards
//! checks that the stored one is the same. A bad declaration stops the start with a message
//! naming the variable and the field.
//!
//! `AUDITLOG_DESTINATION` holds the declaration as JSON, or `AUDITLOG_DESTINATION_FILE` names a
//! file holding it (a mounted ConfigMap, say):
//!
//! ```json
//! {"id": "dst_onprem", "tenant": "acme",
//!  "target": {"kind": "s3", "bucket": "audit", "prefix": "user-events-audit/",
//!             "compatible": {"endpoint": "https://minio.internal:9000",
//!                            "access_key_id": "AKIA...",
//!                            "secret_access_key": {"file": "/run/secrets/minio"}}}}
//! ```
//!
//! `target` is any destination kind (`s3`, `azure`, `directory`) in the form `auditlog
//! destinations list` prints; credentials are references only.

use anyhow::bail;
use auditlog_core::export::{
    Destination, Target, check_azure_target, check_s3_target, normalize_prefix,
};
use auditlog_core::keys::validate_tenant;
use auditlog_core::self_audit::{SelfAction, SelfEvent};
use auditlog_core::store::ServiceStore;
use clap::Args;
use serde::Deserialize;

use crate::operator::{Recorder, now};

#[derive(Debug, Clone, Args)]
pub struct DeclaredArgs {
    /// A destination declared as JSON (see docs/export.md, on-prem): registered at start, then
    /// checked against the stored one at every start.
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
    /// Default: `dst_{tenant}_declared`.
    id: Option<String>,
    tenant: String,
    target: Target,
}

impl DeclaredArgs {
    /// The declared destination, checked, with the variable it came from; `None` when none is
    /// declared.
    pub fn read(&self) -> anyhow::Result<Option<(Destination, &'static str)>> {
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
        let declared: Declaration = serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{variable}: not a destination declaration: {e}"))?;
        let problems = check(&declared);
        if !problems.is_empty() {
            bail!(
                "{variable}: the declared destination is not valid:\n{}",
                problems.join("\n")
            );
        }
        let id = declared
            .id
            .unwrap_or_else(|| format!("dst_{}_declared", declared.tenant));
        let destination = Destination {
            id,
            tenant: declared.tenant,
            target: declared.target,
            created_at: now(),
        };
        Ok(Some((destination, variable)))
    }
}

/// Every problem of a declaration, each named by its JSON pointer.
fn check(declared: &Declaration) -> Vec<String> {
    let mut problems = Vec::new();
    if let Err(e) = validate_tenant(&declared.tenant) {
        problems.push(format!("  /tenant: {e}"));
    }
    if let Some(id) = &declared.id
        && (id.is_empty()
            || id.len() > 128
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
    {
        problems.push("  /id: 1 to 128 of letters, digits, `_` and `-`".into());
    }
    let target_problems = match &declared.target {
        Target::S3(s3) => check_s3_target(s3),
        Target::Azure(azure) => check_azure_target(azure),
        Target::Directory { path, prefix } => {
            let mut found = Vec::new();
            if !path.starts_with('/') {
                found.push(("/path".to_string(), "an absolute path".to_string()));
            }
            if let Err(e) = normalize_prefix(prefix) {
                found.push(("/prefix".to_string(), e));
            }
            found
        }
        Target::Stream(_) => vec![(
            "/kind".to_string(),
            "a stream is added with `auditlog streams add`, not declared".to_string(),
        )],
    };
    problems.extend(
        target_problems
            .into_iter()
            .map(|(pointer, message)| format!("  /target{pointer}: {message}")),
    );
    problems
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
        Some(stored) if stored.tenant == declared.tenant && stored.target == declared.target => {
            tracing::info!(destination = %declared.id, "the declared destination is registered");
            Ok(())
        }
        Some(_) => bail!(
            "{variable}: destination {} is stored with another tenant or target than declared; \
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
