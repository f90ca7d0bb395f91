//! The Azure Blob Storage object store, through the `object_store` crate (its `azure` feature;
//! `docs/export.md` says why this crate). Objects are created with `If-None-Match: *`, so of two
//! writers of a name exactly one creates it; the compare on a retry is the trait's own.
//!
//! Credentials come from references resolved when the sink is built (`resolve`): a shared key
//! or a SAS token from an environment variable or a file, or Entra ID from the environment.
//! No credential is ever put in a message: errors name the reference, never its value.

use std::time::Duration;

use async_trait::async_trait;
use auditlog_core::export::{AzureCredential, AzureTarget};
use futures::TryStreamExt as _;
use object_store::azure::{AzureConfigKey, MicrosoftAzure, MicrosoftAzureBuilder};
use object_store::path::Path;
use object_store::{
    Attribute, Attributes, ClientOptions, ObjectStore, ObjectStoreExt as _, PutMode, PutOptions,
    RetryConfig,
};

pub use crate::secrets::resolve;
use crate::sink::{Creation, ObjectSink, SinkError, content_type};

pub struct AzureSink {
    store: MicrosoftAzure,
    target: AzureTarget,
}

/// What a store is opened for: the exporter creates and reads back; the verifier reads and
/// lists. A SAS is checked for the permissions its use needs before any request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    Export,
    Verify,
}

impl Use {
    fn needs(self) -> &'static [(char, &'static str)] {
        match self {
            Use::Export => &[
                ('c', "create objects"),
                ('r', "read one back to compare it after a retry"),
            ],
            Use::Verify => &[('r', "read objects"), ('l', "list them")],
        }
    }
}

/// Checks a SAS token's own claims before it is used: its validity period (`st`, `se`) against
/// now, and its permissions (`sp`) against what `usage` needs. Azure would refuse the requests
/// later, with less to say (and the Azurite emulator does not always refuse them alike).
pub fn check_sas(
    token: &str,
    usage: Use,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), SinkError> {
    let pairs: Vec<(String, String)> =
        form_urlencoded::parse(token.trim_start_matches('?').as_bytes())
            .into_owned()
            .collect();
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let Some(permissions) = field("sp") else {
        return Err(SinkError::Failed {
            message: "the SAS token has no permissions (`sp`) or is not a SAS token".into(),
            hint: Some(crate::azure_errors::sas_hint()),
        });
    };
    let missing: Vec<String> = usage
        .needs()
        .iter()
        .filter(|(letter, _)| !permissions.contains(*letter))
        .map(|(letter, why)| format!("{letter} ({why})"))
        .collect();
    if !missing.is_empty() {
        return Err(SinkError::Failed {
            message: format!(
                "the SAS token grants `{permissions}` but lacks {}",
                missing.join(" and ")
            ),
            hint: Some(crate::azure_errors::sas_hint()),
        });
    }
    let time = |name: &str| field(name).and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
    if let Some(expiry) = time("se")
        && expiry <= now
    {
        return Err(SinkError::Failed {
            message: format!("the SAS token expired at {}", expiry.to_rfc3339()),
            hint: Some(crate::azure_errors::sas_hint()),
        });
    }
    if let Some(start) = time("st")
        && start > now + chrono::Duration::minutes(5)
    {
        return Err(SinkError::Failed {
            message: format!("the SAS token is not valid until {}", start.to_rfc3339()),
            hint: Some(crate::azure_errors::sas_hint()),
        });
    }
    Ok(())
}

impl AzureSink {
    /// A client for `target` as the exporter uses it, with its credential resolved.
    pub fn new(target: &AzureTarget) -> Result<AzureSink, SinkError> {
        AzureSink::open(target, Use::Export)
    }

    /// A client for `target`, for `usage`, with its credential resolved (and a SAS checked).
    pub fn open(target: &AzureTarget, usage: Use) -> Result<AzureSink, SinkError> {
        let mut builder = MicrosoftAzureBuilder::new()
            .with_account(&target.account)
            .with_container_name(&target.container)
            // A wrong endpoint or a refusal is reported in seconds, not after minutes of retries.
            .with_retry(RetryConfig {
                max_retries: 2,
                retry_timeout: Duration::from_secs(20),
                ..RetryConfig::default()
            })
            .with_client_options(
                ClientOptions::new()
                    .with_timeout(Duration::from_secs(60))
                    .with_connect_timeout(Duration::from_secs(5))
                    .with_allow_http(
                        target
                            .endpoint
                            .as_deref()
                            .is_some_and(|e| e.starts_with("http://")),
                    ),
            );
        if let Some(endpoint) = &target.endpoint {
            builder = builder.with_endpoint(endpoint.trim_end_matches('/').to_string());
        }
        builder = match &target.credential {
            AzureCredential::SharedKey { key } => builder
                .with_access_key(resolve(key)?)
                .with_credential_type("access_key"),
            AzureCredential::Sas { token } => {
                let token = resolve(token)?;
                check_sas(&token, usage, chrono::Utc::now())?;
                builder
                    .with_config(AzureConfigKey::SasKey, token)
                    .with_credential_type("sas_token")
            }
            AzureCredential::EntraId => entra_id(builder),
        };
        let store = builder.build().map_err(|e| SinkError::Failed {
            message: format!(
                "cannot set up the Azure client for {}: {}",
                target.location(),
                scrub(&e.to_string())
            ),
            hint: None,
        })?;
        Ok(AzureSink {
            store,
            target: target.clone(),
        })
    }

    fn fail(&self, operation: &str, key: &str, e: &object_store::Error) -> SinkError {
        crate::azure_errors::classify(operation, &self.target, key, e)
    }
}

/// Entra ID as the environment offers it: workload identity, else a client secret, else the
/// host's managed identity.
fn entra_id(builder: MicrosoftAzureBuilder) -> MicrosoftAzureBuilder {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let mut builder = builder;
    if let Some(client) = var("AZURE_CLIENT_ID") {
        builder = builder.with_client_id(client);
    }
    if let Some(tenant) = var("AZURE_TENANT_ID") {
        builder = builder.with_tenant_id(tenant);
    }
    if let Some(file) = var("AZURE_FEDERATED_TOKEN_FILE") {
        builder
            .with_federated_token_file(file)
            .with_credential_type("workload_identity")
    } else if let Some(secret) = var("AZURE_CLIENT_SECRET") {
        builder
            .with_client_secret(secret)
            .with_credential_type("client_secret")
    } else {
        builder.with_credential_type("managed_identity")
    }
}

/// Removes anything that looks like a SAS signature from a message (a URL in an error).
pub(crate) fn scrub(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, part) in text.split("sig=").enumerate() {
        if i == 0 {
            out.push_str(part);
        } else {
            out.push_str("sig=[REDACTED]");
            let rest = part
                .find(|c: char| c == '&' || c.is_whitespace() || c == '"' || c == ')')
                .map_or("", |at| &part[at..]);
            out.push_str(rest);
        }
    }
    out
}

fn path(key: &str) -> Path {
    Path::from(key)
}

#[async_trait]
impl ObjectSink for AzureSink {
    async fn create(
        &self,
        key: &str,
        body: Vec<u8>,
        _sha256: [u8; 32],
    ) -> Result<Creation, SinkError> {
        let mut attributes = Attributes::new();
        attributes.insert(Attribute::ContentType, content_type(key).into());
        let options = PutOptions {
            mode: PutMode::Create,
            attributes,
            ..PutOptions::default()
        };
        match self.store.put_opts(&path(key), body.into(), options).await {
            Ok(_) => Ok(Creation::Created),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(Creation::Exists),
            // A SAS without `w` is refused (403, not 409) when the blob exists: whether it does
            // is asked with a read (`r`), and when it cannot be, the refusal stands.
            Err(e @ object_store::Error::PermissionDenied { .. }) => {
                match self.store.head(&path(key)).await {
                    Ok(_) => Ok(Creation::Exists),
                    Err(_) => Err(self.fail("create", key, &e)),
                }
            }
            Err(e) => Err(self.fail("create", key, &e)),
        }
    }

    async fn read(&self, key: &str) -> Result<Vec<u8>, SinkError> {
        let got = self
            .store
            .get(&path(key))
            .await
            .map_err(|e| self.fail("read", key, &e))?;
        let bytes = got.bytes().await.map_err(|e| self.fail("read", key, &e))?;
        Ok(bytes.to_vec())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, SinkError> {
        let trimmed = prefix.trim_end_matches('/');
        let under = (!trimmed.is_empty()).then(|| Path::from(trimmed));
        let listed: Vec<object_store::ObjectMeta> = self
            .store
            .list(under.as_ref())
            .try_collect()
            .await
            .map_err(|e| self.fail("list", prefix, &e))?;
        Ok(listed
            .into_iter()
            .map(|meta| meta.location.to_string())
            .filter(|key| key.starts_with(prefix))
            .collect())
    }

    fn describe(&self) -> String {
        format!("azure:{}", self.target.location())
    }

    fn locate(&self, key: &str) -> String {
        let base = self.target.location();
        let container_root = base.strip_suffix(&self.target.prefix).unwrap_or(&base);
        format!("{container_root}{key}")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn at(text: &str) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::parse_from_rfc3339(text).unwrap().into()
    }

    #[test]
    fn a_sas_is_checked_for_what_its_use_needs() {
        let now = at("2026-12-01T12:00:00Z");
        let sas = "sv=2025-11-05&st=2026-12-01T11%3A00%3A00Z&se=2026-12-01T13%3A00%3A00Z&sr=c&sp=rcl&sig=abc";
        assert!(check_sas(sas, Use::Export, now).is_ok());
        assert!(check_sas(&format!("?{sas}"), Use::Verify, now).is_ok());
        let create_only = sas.replace("sp=rcl", "sp=c");
        let e = check_sas(&create_only, Use::Export, now)
            .unwrap_err()
            .to_string();
        assert!(e.contains("grants `c` but lacks r (read one back"), "{e}");
        assert!(!e.contains("sig=abc"), "{e}");
        let e = check_sas(&create_only, Use::Verify, now)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("lacks r (read objects) and l (list them)"),
            "{e}"
        );
        let e = check_sas(sas, Use::Export, at("2026-12-01T13:00:00Z"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("expired at 2026-12-01T13:00:00"), "{e}");
        let e = check_sas(sas, Use::Export, at("2026-12-01T10:00:00Z"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not valid until"), "{e}");
        let e = check_sas("not-a-sas", Use::Export, now)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no permissions (`sp`)"), "{e}");
    }

    #[test]
    fn missing_references_name_the_reference_only() {
        use auditlog_core::export::SecretRef;
        let e = resolve(&SecretRef::Env("AUDITLOG_TEST_SURELY_UNSET".into()))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("environment variable AUDITLOG_TEST_SURELY_UNSET"),
            "{e}"
        );
        let e = resolve(&SecretRef::File("/nonexistent/azure-key".into()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("file /nonexistent/azure-key"), "{e}");
    }
}
