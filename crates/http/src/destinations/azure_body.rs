//! `POST /v1/destinations` with `{"azure": {...}}`: an Azure container added by a tenant's admin
//! key. A tenant chooses less here than the operator does at the CLI, because the exporter's
//! environment is not the tenant's to read:
//! - the credential is an environment variable of the exporter whose name starts with
//!   `AUDITLOG_TENANT_{TENANT}_` (set by the operator for that tenant), so a tenant can never
//!   make the exporter send another tenant's secret, or one of its own, anywhere;
//! - no secret file, and no Entra ID (the exporter's own identity) over HTTP;
//! - the endpoint, when given, is the account's blob endpoint in an Azure cloud, never an
//!   arbitrary host (a SAS travels in the request URL).

use auditlog_core::export::{
    AzureCredential, AzureTarget, Compression, DEFAULT_PREFIX, SecretRef, check_azure_target,
    normalize_prefix,
};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

/// The Azure cloud blob domains an endpoint may name over HTTP.
const AZURE_BLOB_DOMAINS: [&str; 3] = [
    "blob.core.windows.net",
    "blob.core.usgovcloudapi.net",
    "blob.core.chinacloudapi.cn",
];

/// `{"azure": {...}}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAzureBody {
    #[serde(deserialize_with = "auditlog_core::strict::object")]
    azure: NewAzureDestination,
    /// How the objects are compressed: `gzip` (default) or `zstd`; fixed for the destination's
    /// life. Read (and checked) before the body, by pointer.
    #[allow(dead_code)] // read before the body, by pointer (`object_options`)
    compression: Option<Compression>,
    /// Only the events it admits are written; fixed for the destination's life.
    #[allow(dead_code)] // read before the body, by pointer (`object_options`)
    filter: Option<auditlog_core::stream::filter::Filter>,
    /// `v1` (default), `ocsf` or `ecs`; fixed for the destination's life.
    #[allow(dead_code)] // read before the body, by pointer (`object_options`)
    format: Option<auditlog_core::stream::format::Format>,
    /// OCSF class rules, with `format: ocsf` only.
    #[allow(dead_code)] // read before the body, by pointer (`object_options`)
    ocsf_classes: Option<Vec<auditlog_core::stream::ocsf::ClassRule>>,
}

/// An Azure Blob Storage container. Give exactly one of `sas_env` and `key_env`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAzureDestination {
    /// The storage account: 3 to 24 lowercase letters and digits.
    account: String,
    /// 3 to 63 lowercase letters, digits and single hyphens.
    container: String,
    /// Blob name prefix; default `user-events-audit/`.
    prefix: Option<String>,
    /// `https://{account}.blob.core.usgovcloudapi.net` (or `.chinacloudapi.cn`) outside Azure's
    /// public cloud; default `https://{account}.blob.core.windows.net`.
    endpoint: Option<String>,
    /// The exporter's environment variable holding a SAS for the container (permissions c, r,
    /// l): its name starts with `AUDITLOG_TENANT_{TENANT}_`, the tenant in capitals with `-` as
    /// `_`. Ask the operator to set it.
    sas_env: Option<String>,
    /// The same for the account's shared key.
    key_env: Option<String>,
}

pub use auditlog_core::export::tenant_secret_prefix;

/// The target the body describes for `tenant`, or every problem with its JSON pointer.
pub fn azure_target_of(tenant: &str, body: NewAzureBody) -> Result<AzureTarget, Vec<Value>> {
    let azure = body.azure;
    let mut problems: Vec<Value> = Vec::new();
    let problem = |problems: &mut Vec<Value>, pointer: &str, message: String| {
        problems.push(json!({"pointer": pointer, "message": message}));
    };
    let (field, name) = match (&azure.sas_env, &azure.key_env) {
        (Some(name), None) => ("sas_env", name.clone()),
        (None, Some(name)) => ("key_env", name.clone()),
        _ => {
            problem(
                &mut problems,
                "/azure",
                "give exactly one of sas_env and key_env".into(),
            );
            ("sas_env", String::new())
        }
    };
    let prefix = tenant_secret_prefix(tenant);
    if !name.is_empty() && !name.starts_with(&prefix) {
        problem(
            &mut problems,
            &format!("/azure/{field}"),
            format!(
                "over the API a credential is an environment variable of the exporter named {prefix}..., which your operator sets for this tenant"
            ),
        );
    }
    if let Some(endpoint) = &azure.endpoint {
        let allowed = AZURE_BLOB_DOMAINS.iter().any(|domain| {
            endpoint.trim_end_matches('/') == format!("https://{}.{domain}", azure.account)
        });
        if !allowed {
            problem(
                &mut problems,
                "/azure/endpoint",
                format!(
                    "over the API an endpoint is https://{}.blob.core.windows.net, or the same account in the US Government or China cloud; other endpoints are the operator's to set",
                    azure.account
                ),
            );
        }
    }
    let prefix_text = azure.prefix.unwrap_or_else(|| DEFAULT_PREFIX.to_string());
    let reference = SecretRef::Env(name);
    let credential = if field == "key_env" {
        AzureCredential::SharedKey { key: reference }
    } else {
        AzureCredential::Sas { token: reference }
    };
    let target = AzureTarget {
        account: azure.account,
        container: azure.container,
        prefix: prefix_text,
        endpoint: azure.endpoint,
        credential,
    };
    for (pointer, message) in check_azure_target(&target) {
        let pointer = match pointer.as_str() {
            "/credential/key" | "/credential/token" => format!("/azure/{field}"),
            other => format!("/azure{other}"),
        };
        // The checks above already say what an acceptable name is, or that one is missing.
        if problems
            .iter()
            .any(|p| p["pointer"] == pointer.as_str() || p["pointer"] == "/azure")
            && pointer.starts_with(&format!("/azure/{field}"))
        {
            continue;
        }
        problem(&mut problems, &pointer, message);
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let prefix = normalize_prefix(&target.prefix)
        .map_err(|m| vec![json!({"pointer": "/azure/prefix", "message": m.to_string()})])?;
    Ok(AzureTarget { prefix, ..target })
}
