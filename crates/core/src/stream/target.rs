//! A stream destination as a tenant admin describes it, checked in one place for the API and the
//! CLI: where it goes (a webhook, Splunk HEC, Datadog, Elasticsearch or OpenSearch), its
//! format, its filter, and its OCSF class rules. Every problem is named by JSON pointer, all at
//! once.
//!
//! Secrets (the webhook's signing secret, tokens, API keys, passwords) are references, never
//! values: over the API an environment variable of the service named
//! `AUDITLOG_TENANT_{TENANT}_...`, which the operator sets for that tenant, so a tenant can
//! neither read another's secret nor a variable of the service; the operator's CLI may also name
//! a file.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::address::{AddressPolicy, check_url};
use super::bulk::check_index;
use super::datadog::SITES;
use super::filter::Filter;
use super::format::Format;
use super::ocsf::OcsfMapping;
use super::splunk::HecSettings;
use crate::export::{SecretRef, tenant_secret_prefix};
use crate::time::Timestamp;
use crate::validate::FieldError;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamTarget {
    Webhook {
        url: String,
        secret: SecretRef,
        /// During a rotation: the secret being replaced, which signs beside `secret` until
        /// `previous_until`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous_secret: Option<SecretRef>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous_until: Option<Timestamp>,
    },
    Splunk {
        url: String,
        token: SecretRef,
        #[serde(flatten)]
        hec: HecSettings,
    },
    Datadog {
        site: String,
        api_key: SecretRef,
        /// Another intake than the site's own: a proxy or an Observability Pipelines worker
        /// that speaks the same API. Checked like any destination URL.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String>,
    },
    Elasticsearch {
        url: String,
        index: String,
        /// An API key (`Authorization: ApiKey ...`), or `username` with `password`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        api_key: Option<SecretRef>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        username: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password: Option<SecretRef>,
    },
}

impl StreamTarget {
    pub fn kind(&self) -> &'static str {
        match self {
            StreamTarget::Webhook { .. } => "webhook",
            StreamTarget::Splunk { .. } => "splunk",
            StreamTarget::Datadog { .. } => "datadog",
            StreamTarget::Elasticsearch { .. } => "elasticsearch",
        }
    }

    /// Where it delivers, as lists and self-audit records show it: the URL without its query
    /// (a receiver may take a token there), or the Datadog site.
    pub fn location(&self) -> String {
        let url = match self {
            StreamTarget::Webhook { url, .. }
            | StreamTarget::Splunk { url, .. }
            | StreamTarget::Elasticsearch { url, .. } => url,
            StreamTarget::Datadog {
                site, url: None, ..
            } => return format!("datadog:{site}"),
            StreamTarget::Datadog { url: Some(url), .. } => url,
        };
        url.split(['?', '#']).next().unwrap_or_default().to_string()
    }
}

/// Everything a stream destination is, besides its id and tenant.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamSettings {
    pub target: StreamTarget,
    #[serde(default)]
    pub format: Format,
    #[serde(default)]
    pub filter: Filter,
    #[serde(default)]
    pub ocsf: OcsfMapping,
}

/// Who is describing the destination: a tenant admin over the API (secrets only as the tenant's
/// environment variables) or the operator at the CLI (any variable, or a file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Author<'a> {
    Tenant(&'a str),
    Operator,
}

struct Problems(Vec<FieldError>);

impl Problems {
    fn add(&mut self, pointer: &str, message: impl Into<String>) {
        self.0.push(FieldError {
            pointer: pointer.to_string(),
            message: message.into(),
        });
    }
}

/// Reads a stream destination from `{"webhook" | "splunk" | "datadog" | "elasticsearch": {...},
/// "format", "filter", "ocsf_classes"}`.
pub fn stream_settings(
    body: &Value,
    author: Author<'_>,
    policy: AddressPolicy,
) -> Result<StreamSettings, Vec<FieldError>> {
    let mut problems = Problems(Vec::new());
    let Some(object) = body.as_object() else {
        return Err(vec![FieldError {
            pointer: String::new(),
            message: "must be an object".into(),
        }]);
    };
    let kinds: Vec<&str> = ["webhook", "splunk", "datadog", "elasticsearch"]
        .into_iter()
        .filter(|k| object.contains_key(*k))
        .collect();
    for name in object.keys() {
        if !matches!(
            name.as_str(),
            "webhook"
                | "splunk"
                | "datadog"
                | "elasticsearch"
                | "format"
                | "filter"
                | "ocsf_classes"
        ) {
            problems.add(&format!("/{name}"), "is not a stream destination field");
        }
    }
    let target = match kinds.as_slice() {
        [kind] => read_target(kind, &object[*kind], author, policy, &mut problems),
        _ => {
            problems.add(
                "",
                "give exactly one of `webhook`, `splunk`, `datadog`, `elasticsearch`",
            );
            None
        }
    };
    let format = match object
        .get("format")
        .map(|f| f.as_str().and_then(Format::parse))
    {
        None => Format::default(),
        Some(Some(format)) => format,
        Some(None) => {
            problems.add("/format", "must be `v1`, `ocsf` or `ecs`");
            Format::default()
        }
    };
    let filter = match object.get("filter") {
        None => Filter::default(),
        Some(value) => Filter::from_json(value, "/filter").unwrap_or_else(|errors| {
            problems.0.extend(errors);
            Filter::default()
        }),
    };
    let ocsf = match object.get("ocsf_classes") {
        None => OcsfMapping::default(),
        Some(value) => OcsfMapping::from_json(value, "/ocsf_classes").unwrap_or_else(|errors| {
            problems.0.extend(errors);
            OcsfMapping::default()
        }),
    };
    match target {
        Some(target) if problems.0.is_empty() => Ok(StreamSettings {
            target,
            format,
            filter,
            ocsf,
        }),
        _ => Err(problems.0),
    }
}

/// One target object being read: where it sits, who declares it, which addresses it may
/// use, and the problems found so far.
struct Fields<'a> {
    value: &'a Value,
    at: String,
    author: Author<'a>,
    policy: AddressPolicy,
    problems: &'a mut Problems,
}

impl Fields<'_> {
    fn problem(&mut self, field: &str, message: impl Into<String>) {
        self.problems.add(&format!("{}/{field}", self.at), message);
    }

    /// A field as a string, or a problem.
    fn text(&mut self, field: &str) -> Option<String> {
        match self.value.get(field) {
            Some(Value::String(s)) if !s.is_empty() && s.len() <= 2048 => Some(s.clone()),
            Some(_) => {
                self.problem(field, "must be a non-empty string");
                None
            }
            None => {
                self.problem(field, "is required");
                None
            }
        }
    }

    /// A secret reference: `{field}_env` (or, for the operator, `{field}_file`).
    fn secret(&mut self, field: &str, required: bool) -> Option<SecretRef> {
        let env = self
            .value
            .get(format!("{field}_env"))
            .and_then(Value::as_str);
        let file = self
            .value
            .get(format!("{field}_file"))
            .and_then(Value::as_str);
        match (env, file, self.author) {
            (Some(name), None, Author::Tenant(tenant)) => {
                let prefix = tenant_secret_prefix(tenant);
                if name.starts_with(&prefix) && name.len() > prefix.len() {
                    Some(SecretRef::Env(name.to_string()))
                } else {
                    self.problem(
                        &format!("{field}_env"),
                        format!(
                            "over the API a secret is an environment variable of the service named \
                             {prefix}..., which your operator sets for this tenant"
                        ),
                    );
                    None
                }
            }
            (Some(name), None, Author::Operator) => Some(SecretRef::Env(name.to_string())),
            (None, Some(path), Author::Operator) if path.starts_with('/') => {
                Some(SecretRef::File(path.to_string()))
            }
            (None, Some(_), Author::Operator) => {
                self.problem(&format!("{field}_file"), "must be an absolute path");
                None
            }
            (None, Some(_), Author::Tenant(_)) => {
                self.problem(
                    &format!("{field}_file"),
                    format!("over the API a secret is an environment variable (`{field}_env`)"),
                );
                None
            }
            (None, None, _) if !required => None,
            _ => {
                self.problem(
                    &format!("{field}_env"),
                    format!("give the secret's reference: `{field}_env`"),
                );
                None
            }
        }
    }

    /// `url`, checked against the address policy.
    fn url(&mut self) -> Option<String> {
        let text = self.text("url")?;
        match check_url(&text, self.policy) {
            Ok(_) => Some(text),
            Err(why) => {
                self.problem("url", why.to_string());
                None
            }
        }
    }
}

fn read_target(
    kind: &str,
    value: &Value,
    author: Author<'_>,
    policy: AddressPolicy,
    problems: &mut Problems,
) -> Option<StreamTarget> {
    let at = format!("/{kind}");
    if !value.is_object() {
        problems.add(&at, "must be an object");
        return None;
    }
    let read = match kind {
        "webhook" => read_webhook,
        "splunk" => read_splunk,
        "datadog" => read_datadog,
        _ => read_elasticsearch,
    };
    read(&mut Fields {
        value,
        at,
        author,
        policy,
        problems,
    })
}

fn read_webhook(f: &mut Fields<'_>) -> Option<StreamTarget> {
    let url = f.url();
    let secret_ref = f.secret("secret", true);
    let previous = f.secret("previous_secret", false);
    let until = match f.value.get("previous_until").map(Value::as_str) {
        None => None,
        Some(text) => match text.map(crate::time::parse_rfc3339) {
            Some(Ok(t)) => Some(t),
            _ => {
                f.problem("previous_until", "must be an RFC 3339 time");
                None
            }
        },
    };
    if previous.is_some() != until.is_some() {
        f.problems.add(
            &f.at,
            "a rotation gives both `previous_secret_env` and `previous_until`",
        );
    }
    Some(StreamTarget::Webhook {
        url: url?,
        secret: secret_ref?,
        previous_secret: previous,
        previous_until: until,
    })
}

fn read_splunk(f: &mut Fields<'_>) -> Option<StreamTarget> {
    let url = f.url();
    let token = f.secret("token", true);
    let hec = HecSettings {
        index: f
            .value
            .get("index")
            .and_then(Value::as_str)
            .map(str::to_string),
        source: f
            .value
            .get("source")
            .and_then(Value::as_str)
            .unwrap_or("auditlog")
            .to_string(),
        sourcetype: f
            .value
            .get("sourcetype")
            .and_then(Value::as_str)
            .map(str::to_string),
    };
    Some(StreamTarget::Splunk {
        url: url?,
        token: token?,
        hec,
    })
}

fn read_datadog(f: &mut Fields<'_>) -> Option<StreamTarget> {
    let site = f.text("site");
    if let Some(site) = &site
        && !SITES.contains(&site.as_str())
    {
        f.problem("site", format!("must be one of {}", SITES.join(", ")));
    }
    let api_key = f.secret("api_key", true);
    let intake = match f.value.get("url") {
        None => None,
        Some(_) => Some(f.url()?),
    };
    Some(StreamTarget::Datadog {
        site: site?,
        api_key: api_key?,
        url: intake,
    })
}

fn read_elasticsearch(f: &mut Fields<'_>) -> Option<StreamTarget> {
    let url = f.url();
    let index = f.text("index");
    if let Some(index) = &index
        && let Err(why) = check_index(index)
    {
        f.problem("index", why.to_string());
    }
    let api_key = f.secret("api_key", false);
    let username = f
        .value
        .get("username")
        .and_then(Value::as_str)
        .map(str::to_string);
    let password = f.secret("password", false);
    if api_key.is_some() == (username.is_some() || password.is_some())
        || username.is_some() != password.is_some()
    {
        f.problems.add(
            &f.at,
            "authenticate with `api_key_env`, or with `username` and `password_env`",
        );
    }
    Some(StreamTarget::Elasticsearch {
        url: url?,
        index: index?,
        api_key,
        username,
        password,
    })
}

#[cfg(test)]
mod tests;
