//! Each target's requests and what its answers mean, from the pure parts in
//! `auditlog_core::stream`: the batch limits, the body and headers of a request, and the verdict
//! on an answer. Secrets are read here, from their references, once per pass; an error names
//! the reference, never the value.

use std::io::Write as _;

use auditlog_core::export::SecretRef;
use auditlog_core::stream::batch::{BatchLimits, Record, WEBHOOK_LIMITS, json_array};
use auditlog_core::stream::target::{StreamSettings, StreamTarget};
use auditlog_core::stream::verdict::{Verdict, from_status};
use auditlog_core::stream::webhook::{WebhookSecret, signature_header};
use auditlog_core::stream::{bulk, datadog, splunk};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha256};

use super::client::{Answer, Outgoing};
use crate::secrets;

/// A stream's target with its secrets read: ready to build requests.
pub struct Prepared<'a> {
    settings: &'a StreamSettings,
    tenant: &'a str,
    auth: Auth,
}

enum Auth {
    Webhook(Vec<WebhookSecret>),
    Header(&'static str, String),
    None,
}

/// A secret that cannot be read, or is not usable: the error for the stream's status.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SecretError(pub String);

fn read(reference: &SecretRef) -> Result<String, SecretError> {
    secrets::resolve(reference).map_err(|e| SecretError(e.to_string()))
}

impl<'a> Prepared<'a> {
    /// Reads the target's secrets. During a webhook rotation, the previous secret signs too,
    /// until `previous_until` (by `now_ms`).
    pub fn new(
        settings: &'a StreamSettings,
        tenant: &'a str,
        now_ms: i64,
    ) -> Result<Prepared<'a>, SecretError> {
        let auth = match &settings.target {
            StreamTarget::Webhook {
                secret,
                previous_secret,
                previous_until,
                ..
            } => {
                let mut secrets = vec![webhook_secret(secret)?];
                if let (Some(previous), Some(until)) = (previous_secret, previous_until)
                    && until.0 > now_ms
                {
                    secrets.push(webhook_secret(previous)?);
                }
                Auth::Webhook(secrets)
            }
            StreamTarget::Splunk { token, .. } => {
                Auth::Header("authorization", format!("Splunk {}", read(token)?))
            }
            StreamTarget::Datadog { api_key, .. } => Auth::Header("dd-api-key", read(api_key)?),
            StreamTarget::Elasticsearch {
                api_key: Some(key), ..
            } => Auth::Header("authorization", format!("ApiKey {}", read(key)?)),
            StreamTarget::Elasticsearch {
                username: Some(user),
                password: Some(password),
                ..
            } => {
                let pair = format!("{user}:{}", read(password)?);
                Auth::Header("authorization", format!("Basic {}", STANDARD.encode(pair)))
            }
            StreamTarget::Elasticsearch { .. } => Auth::None,
        };
        Ok(Prepared {
            settings,
            tenant,
            auth,
        })
    }

    /// The most one request may hold.
    pub fn limits(&self) -> BatchLimits {
        match &self.settings.target {
            StreamTarget::Webhook { .. } => WEBHOOK_LIMITS,
            StreamTarget::Splunk { .. } => splunk::LIMITS,
            StreamTarget::Datadog { .. } => datadog::LIMITS,
            StreamTarget::Elasticsearch { .. } => bulk::LIMITS,
        }
    }

    /// How many bytes a record takes in a request body.
    pub fn size(&self, record: &Record) -> usize {
        match &self.settings.target {
            StreamTarget::Webhook { .. } => record.json.len() + 1,
            StreamTarget::Splunk { .. } => record.json.len() + 200,
            StreamTarget::Datadog { .. } => datadog::entry_size(record),
            StreamTarget::Elasticsearch { index, .. } => {
                record.json.len() + record.id.len() + index.len() + 40
            }
        }
    }

    /// The request for `records`; `now_ms` is the sender's clock (the webhook's timestamp,
    /// Datadog's age rule).
    pub fn request(&self, records: &[Record], now_ms: i64) -> Outgoing {
        let mut headers: Vec<(&'static str, String)> = Vec::new();
        if let Auth::Header(name, value) = &self.auth {
            headers.push((name, value.clone()));
        }
        let (url, body) = match &self.settings.target {
            StreamTarget::Webhook { url, .. } => {
                let body = json_array(records);
                let id = batch_id(records);
                let timestamp = now_ms.div_euclid(1000);
                if let Auth::Webhook(secrets) = &self.auth {
                    let refs: Vec<&WebhookSecret> = secrets.iter().collect();
                    headers.push((
                        "webhook-signature",
                        signature_header(&refs, &id, timestamp, &body),
                    ));
                }
                headers.push(("webhook-id", id));
                headers.push(("webhook-timestamp", timestamp.to_string()));
                headers.push(("content-type", "application/json".into()));
                (url.clone(), body)
            }
            StreamTarget::Splunk { url, hec, .. } => {
                let sourcetype = format!("auditlog:{}", self.settings.format.name());
                headers.push(("content-type", "application/json".into()));
                (
                    format!("{}/services/collector/event", url.trim_end_matches('/')),
                    splunk::body(records, hec, &sourcetype),
                )
            }
            StreamTarget::Datadog { site, url, .. } => {
                let plain =
                    datadog::body(records, self.tenant, self.settings.format.name(), now_ms);
                headers.push(("content-type", "application/json".into()));
                headers.push(("content-encoding", "gzip".into()));
                let intake = url
                    .clone()
                    .or_else(|| datadog::intake_url(site))
                    .unwrap_or_default();
                (intake, gzip(&plain))
            }
            StreamTarget::Elasticsearch { url, index, .. } => {
                headers.push(("content-type", "application/x-ndjson".into()));
                (
                    format!("{}/_bulk", url.trim_end_matches('/')),
                    bulk::body(records, index),
                )
            }
        };
        Outgoing { url, headers, body }
    }

    /// What the answer to a request of `sent` records means.
    pub fn verdict(&self, answer: &Answer, sent: usize, now_ms: i64) -> Verdict {
        let retry_after = answer.retry_after.as_deref();
        match &self.settings.target {
            StreamTarget::Splunk { .. } => {
                splunk::verdict(answer.status, &answer.body, retry_after, now_ms)
            }
            StreamTarget::Elasticsearch { .. } => {
                bulk::verdict(answer.status, &answer.body, sent, retry_after, now_ms)
            }
            StreamTarget::Webhook { .. } | StreamTarget::Datadog { .. } => {
                from_status(answer.status, retry_after, now_ms)
            }
        }
    }
}

fn webhook_secret(reference: &SecretRef) -> Result<WebhookSecret, SecretError> {
    WebhookSecret::parse(&read(reference)?).map_err(|_| {
        SecretError(format!(
            "the webhook secret named by {} is not a Standard Webhooks secret (`whsec_` and the \
             base64 of 24 to 64 bytes)",
            named(reference)
        ))
    })
}

fn named(reference: &SecretRef) -> String {
    match reference {
        SecretRef::Env(name) => format!("environment variable {name}"),
        SecretRef::File(path) => format!("file {path}"),
    }
}

/// The webhook's message id: the same for every sending of the same batch, so a receiver can
/// drop a repeated message whole (the event ids inside drop repeats one by one).
fn batch_id(records: &[Record]) -> String {
    let mut hash = Sha256::new();
    for record in records {
        hash.update(record.id.as_bytes());
        hash.update(b"\n");
    }
    format!("msg_{}", &hex::encode(hash.finalize())[..32])
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 4),
        flate2::Compression::default(),
    );
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}
