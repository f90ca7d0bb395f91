//! `auditlog signing-keys list|rotate|public`: the keys that sign export digests.

use auditlog_core::Timestamp;
use auditlog_core::signing::PublicKeys;
use auditlog_core::store::SigningKeyStore;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum SigningKeysCommand {
    /// List the keys (ids, activation times; never the private part).
    List,
    /// Add a new key: digests of periods ending from now on are signed with it. Old keys stay
    /// published, so the digests they signed keep verifying.
    Rotate,
    /// Print the public keys as JSON (what `GET /v1/integrity/keys` answers, and what
    /// `auditlog verify --public-keys` reads). Makes the first key if there is none yet.
    Public,
}

fn now() -> Timestamp {
    Timestamp(chrono::Utc::now().timestamp_millis())
}

pub async fn run(store: &dyn SigningKeyStore, command: SigningKeysCommand) -> anyhow::Result<()> {
    match command {
        SigningKeysCommand::List => {
            let keys = store.signing_keys().await?;
            if keys.is_empty() {
                println!(
                    "no signing keys yet (the exporter makes the first when it writes its first digest)"
                );
            }
            let newest = keys.iter().map(|k| k.activated_at).max();
            for key in &keys {
                let note = if Some(key.activated_at) == newest {
                    " (current)"
                } else {
                    ""
                };
                println!(
                    "{}  activated {}{note}",
                    key.key_id,
                    key.activated_at.to_rfc3339()
                );
            }
        }
        SigningKeysCommand::Rotate => {
            let key = auditlog_export::signing_keys::rotate(store, now()).await?;
            println!(
                "new signing key {} in force from {}; give verifiers the new public keys (auditlog signing-keys public)",
                key.key_id,
                key.activated_at.to_rfc3339()
            );
        }
        SigningKeysCommand::Public => {
            let keys = auditlog_export::signing_keys::signing_keys(store, now()).await?;
            println!("{}", serde_json::to_string_pretty(&PublicKeys::of(&keys))?);
        }
    }
    Ok(())
}
