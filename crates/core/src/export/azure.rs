//! An Azure Blob Storage destination: a storage account, a container, a prefix, and how the
//! exporter authenticates. Credentials are never stored: a shared key or a SAS token is named by
//! reference (an environment variable or a file of the exporter's host), read when the exporter
//! builds its client, and never shown in an answer, a status, a log line or an error.

use serde::{Deserialize, Serialize};

/// Where a secret lives on the exporter's host. The reference is not secret; its value is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SecretRef {
    /// An environment variable of the exporter (`AUDITLOG_AZURE_KEY_ACME`).
    Env(String),
    /// A file, by absolute path (a mounted Kubernetes secret, say); surrounding whitespace is
    /// ignored.
    File(String),
}

/// The environment-variable prefix of `tenant`'s secrets, `AUDITLOG_TENANT_{TENANT}_`: over the
/// API a tenant may name only variables of its own, which the operator sets for it.
pub fn tenant_secret_prefix(tenant: &str) -> String {
    format!(
        "AUDITLOG_TENANT_{}_",
        tenant.to_ascii_uppercase().replace('-', "_")
    )
}

/// How the exporter proves who it is to the storage account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AzureCredential {
    /// The account's shared key.
    SharedKey { key: SecretRef },
    /// A SAS token for the container, with permissions `c` (create), `r` (read, to compare a
    /// retried object) and `l` (list, for `verify`); see `docs/export.md`.
    Sas { token: SecretRef },
    /// Microsoft Entra ID from the exporter's environment: workload identity
    /// (`AZURE_FEDERATED_TOKEN_FILE`), a client secret (`AZURE_CLIENT_ID`, `AZURE_TENANT_ID`,
    /// `AZURE_CLIENT_SECRET`), or the host's managed identity.
    EntraId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AzureTarget {
    /// The storage account name.
    pub account: String,
    pub container: String,
    pub prefix: String,
    /// The blob endpoint, when not `https://{account}.blob.core.windows.net`: a sovereign cloud,
    /// a private endpoint, or the Azurite emulator (`http://127.0.0.1:10000/{account}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    pub credential: AzureCredential,
}

impl AzureTarget {
    /// `https://{account}.blob.core.windows.net/{container}/{prefix}` or the endpoint's form:
    /// where the objects are, for status and messages (never a credential).
    pub fn location(&self) -> String {
        match &self.endpoint {
            Some(endpoint) => format!(
                "{}/{}/{}",
                endpoint.trim_end_matches('/'),
                self.container,
                self.prefix
            ),
            None => format!(
                "https://{}.blob.core.windows.net/{}/{}",
                self.account, self.container, self.prefix
            ),
        }
    }
}

/// Checks an Azure destination's fields as Azure would accept them; each problem is named by
/// its JSON pointer with the reason.
pub fn check_azure_target(target: &AzureTarget) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    let mut problem =
        |pointer: &str, message: String| problems.push((pointer.to_string(), message));
    let account = &target.account;
    if !(3..=24).contains(&account.len())
        || !account
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        problem(
            "/account",
            "a storage account name is 3 to 24 lowercase letters and digits".into(),
        );
    }
    if let Err(message) = check_container(&target.container) {
        problem("/container", message);
    }
    if let Err(message) = crate::export::normalize_prefix(&target.prefix) {
        problem("/prefix", message.to_string());
    }
    if let Some(endpoint) = &target.endpoint
        && let Err(message) = check_endpoint(endpoint)
    {
        problem("/endpoint", message);
    }
    match &target.credential {
        AzureCredential::SharedKey { key } => {
            if let Err(message) = check_reference(key) {
                problem("/credential/key", message);
            }
        }
        AzureCredential::Sas { token } => {
            if let Err(message) = check_reference(token) {
                problem("/credential/token", message);
            }
        }
        AzureCredential::EntraId => {}
    }
    problems
}

/// 3 to 63 of lowercase letters, digits and single hyphens, starting and ending with a letter
/// or digit (Azure's container naming rules).
fn check_container(name: &str) -> Result<(), String> {
    let ok = (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && name.bytes().next().is_some_and(|b| b != b'-')
        && name.bytes().last().is_some_and(|b| b != b'-')
        && !name.contains("--");
    if ok {
        Ok(())
    } else {
        Err("a container name is 3 to 63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit".into())
    }
}

/// `https://...`, or `http://` to a loopback address (the emulator); no query (a SAS belongs
/// in the credential, not in the URL) and no user information.
fn check_endpoint(endpoint: &str) -> Result<(), String> {
    let rest = if let Some(rest) = endpoint.strip_prefix("https://") {
        rest
    } else if let Some(rest) = endpoint.strip_prefix("http://") {
        let host = rest.split(['/', ':']).next().unwrap_or_default();
        if !matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
            return Err(
                "plain http is only for an emulator on this host (127.0.0.1); use https".into(),
            );
        }
        rest
    } else {
        return Err("an endpoint is an https:// URL".into());
    };
    if rest.is_empty() || rest.contains(['?', '#', '@', ' ']) || endpoint.len() > 512 {
        return Err("an endpoint is a plain URL: no query, fragment or credentials in it, at most 512 characters".into());
    }
    Ok(())
}

/// An environment variable name (`A-Z`, `0-9`, `_`, not starting with a digit) or an absolute
/// file path without `..`.
pub(crate) fn check_reference(reference: &SecretRef) -> Result<(), String> {
    match reference {
        SecretRef::Env(name) => {
            let ok = (1..=128).contains(&name.len())
                && name
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
                && !name.as_bytes()[0].is_ascii_digit();
            if ok {
                Ok(())
            } else {
                Err(
                    "an environment variable name is A-Z, 0-9 and _, not starting with a digit"
                        .into(),
                )
            }
        }
        SecretRef::File(path) => {
            if path.starts_with('/') && !path.split('/').any(|s| s == "..") && path.len() <= 1024 {
                Ok(())
            } else {
                Err("a secret file is an absolute path without `..`".into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> AzureTarget {
        AzureTarget {
            account: "acmeaudit".into(),
            container: "audit-log".into(),
            prefix: "user-events-audit/".into(),
            endpoint: None,
            credential: AzureCredential::Sas {
                token: SecretRef::Env("AUDITLOG_AZURE_SAS_ACME".into()),
            },
        }
    }

    #[test]
    fn good_targets_pass_and_say_where_they_write() {
        assert!(check_azure_target(&good()).is_empty());
        assert_eq!(
            good().location(),
            "https://acmeaudit.blob.core.windows.net/audit-log/user-events-audit/"
        );
        let emulator = AzureTarget {
            endpoint: Some("http://127.0.0.1:10000/devstoreaccount1".into()),
            credential: AzureCredential::SharedKey {
                key: SecretRef::File("/run/secrets/azure-key".into()),
            },
            ..good()
        };
        assert!(check_azure_target(&emulator).is_empty());
        assert_eq!(
            emulator.location(),
            "http://127.0.0.1:10000/devstoreaccount1/audit-log/user-events-audit/"
        );
    }

    #[test]
    fn every_bad_field_is_named() {
        let bad = AzureTarget {
            account: "Acme_Audit".into(),
            container: "-x".into(),
            prefix: "../up".into(),
            endpoint: Some("http://evil.example/?sv=1".into()),
            credential: AzureCredential::SharedKey {
                key: SecretRef::Env("lower case".into()),
            },
        };
        let pointers: Vec<String> = check_azure_target(&bad)
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        assert_eq!(
            pointers,
            [
                "/account",
                "/container",
                "/prefix",
                "/endpoint",
                "/credential/key"
            ]
        );
        for (endpoint, ok) in [
            ("https://acme.blob.core.usgovcloudapi.net", true),
            ("http://localhost:10000/devstoreaccount1", true),
            ("https://user:pw@acme.blob.core.windows.net", false),
            ("ftp://acme", false),
        ] {
            assert_eq!(check_endpoint(endpoint).is_ok(), ok, "{endpoint}");
        }
        assert!(check_container("a--b").is_err());
        assert!(check_reference(&SecretRef::File("relative/key".into())).is_err());
        assert!(check_reference(&SecretRef::File("/run/../etc/shadow".into())).is_err());
        assert!(check_reference(&SecretRef::Env("9LIVES".into())).is_err());
    }

    #[test]
    fn references_serialize_as_the_api_shows_them() {
        let json = serde_json::to_value(good()).unwrap_or_default();
        assert_eq!(
            json["credential"],
            serde_json::json!({"kind": "sas", "token": {"env": "AUDITLOG_AZURE_SAS_ACME"}})
        );
    }
}
