//! `auditlog keys create|list|revoke`, straight against the store.

use anyhow::{Context as _, bail};
use auditlog_core::keys::{
    KeyRecord, check_label, format_scopes, issue_key, parse_scopes, validate_tenant,
};
use auditlog_core::self_audit::{key_created, key_revoked};
use auditlog_core::store::{ApiKeyStore, StoreError};
use clap::Subcommand;

use crate::operator::{Recorder, now};

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a key for a tenant and print it (the only time it is shown).
    Create {
        #[arg(long)]
        tenant: String,
        /// Comma-separated: write, read, admin.
        #[arg(long, default_value = "write,read")]
        scopes: String,
        /// A note to tell keys apart in `keys list`.
        #[arg(long)]
        label: Option<String>,
        /// Print JSON (key id, tenant, scopes, key) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List keys (never their secrets).
    List {
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key by its id; it stops working at once.
    Revoke { key_id: String },
}

pub async fn run(
    store: &dyn ApiKeyStore,
    recorder: &Recorder,
    command: KeysCommand,
) -> anyhow::Result<()> {
    match command {
        KeysCommand::Create {
            tenant,
            scopes,
            label,
            json,
        } => create(store, recorder, tenant, &scopes, label, json).await,
        KeysCommand::List { tenant, json } => list(store, tenant.as_deref(), json).await,
        KeysCommand::Revoke { key_id } => revoke(store, recorder, &key_id).await,
    }
}

/// Makes a key, records it in the tenant's log, and shows it once.
async fn create(
    store: &dyn ApiKeyStore,
    recorder: &Recorder,
    tenant: String,
    scopes: &str,
    label: Option<String>,
    json: bool,
) -> anyhow::Result<()> {
    validate_tenant(&tenant).map_err(|e| anyhow::anyhow!("--tenant: {e}"))?;
    let scopes = parse_scopes(scopes).map_err(|e| anyhow::anyhow!("--scopes: {e}"))?;
    if let Some(label) = &label {
        check_label(label).map_err(|e| anyhow::anyhow!("--label: {e}"))?;
    }
    // A key id collision (2^-64 per pair) is answered by trying fresh randomness.
    for _ in 0..3 {
        let issued = issue_key(rand::random(), rand::random());
        let record = KeyRecord {
            key_id: issued.key_id.clone(),
            tenant: tenant.clone(),
            scopes: scopes.clone(),
            hash: issued.hash.clone(),
            label: label.clone(),
            created_at: now(),
            revoked_at: None,
        };
        let audit = recorder.event(&tenant, key_created(recorder.caller(), &record));
        match store.create_key(&record, &audit).await {
            Ok(()) => {
                if json {
                    println!(
                        "{}",
                        serde_json::json!({"key_id": record.key_id, "tenant": tenant,
                            "scopes": scopes, "key": issued.key})
                    );
                } else {
                    println!("key id:  {}", record.key_id);
                    println!("tenant:  {tenant}");
                    println!("scopes:  {}", format_scopes(&scopes));
                    println!("key:     {}", issued.key);
                    eprintln!("Store the key now: it is not kept and cannot be shown again.");
                }
                return Ok(());
            }
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e).context("could not store the key"),
        }
    }
    bail!("could not create a unique key id")
}

async fn list(store: &dyn ApiKeyStore, tenant: Option<&str>, json: bool) -> anyhow::Result<()> {
    let keys = store
        .list_keys(tenant)
        .await
        .context("could not list keys")?;
    if json {
        for k in &keys {
            println!(
                "{}",
                serde_json::json!({"key_id": k.key_id, "tenant": k.tenant, "scopes": k.scopes,
                    "label": k.label, "created_at": k.created_at, "revoked_at": k.revoked_at})
            );
        }
    } else {
        println!(
            "{:<18} {:<20} {:<18} {:<26} {:<8} LABEL",
            "KEY ID", "TENANT", "SCOPES", "CREATED", "STATE"
        );
        for k in &keys {
            println!(
                "{:<18} {:<20} {:<18} {:<26} {:<8} {}",
                k.key_id,
                k.tenant,
                format_scopes(&k.scopes),
                k.created_at.to_rfc3339(),
                if k.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                },
                k.label.as_deref().unwrap_or("")
            );
        }
    }
    Ok(())
}

async fn revoke(store: &dyn ApiKeyStore, recorder: &Recorder, key_id: &str) -> anyhow::Result<()> {
    let Some(key) = store
        .find_key(key_id)
        .await
        .context("could not read the key")?
    else {
        bail!("no key with id {key_id}")
    };
    let audit = recorder.event(&key.tenant, key_revoked(recorder.caller(), &key));
    if store
        .revoke_key(key_id, now(), &audit)
        .await
        .context("could not revoke the key")?
    {
        println!("revoked {key_id}");
        Ok(())
    } else {
        bail!("no key with id {key_id}")
    }
}
