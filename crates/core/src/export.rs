//! Export, the pure part: destinations, windows, object names, and the per-destination state
//! that makes delivery exactly-once. The exporter (`auditlog-export`) does the I/O.
//!
//! Windows are aligned slices of receive time (`[start, end)`, `start` a multiple of the window
//! length since the epoch). A window is closed, and may be exported, once `end + grace` has
//! passed: the grace covers writes still in flight when the window ends (a request's events
//! carry the time the request arrived) and index propagation. Every event therefore belongs to
//! exactly one window, fixed when it is stored, and every window is written once.

use serde::{Deserialize, Serialize};

use crate::Timestamp;
pub use crate::object_keys::{
    Compression, Window, compact_time, is_closed, object_key, object_window, parse_compact_time,
    verify_key, window_containing,
};

mod azure;
pub mod machine;
mod options;
pub mod replay;

pub use options::{GivenOptions, ObjectOptions};

pub use azure::{
    AzureCredential, AzureTarget, SecretRef, check_azure_target, tenant_secret_prefix,
};

/// The default key prefix in a customer's bucket.
pub const DEFAULT_PREFIX: &str = "user-events-audit/";

/// Where a tenant's events go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Destination {
    /// `dst_` + a ULID, made when the destination is added.
    pub id: String,
    pub tenant: String,
    pub target: Target,
    pub created_at: Timestamp,
    /// How an object store's objects are compressed; a stream ignores it (each stream target
    /// compresses as its protocol says). Absent in records written before it existed: gzip.
    #[serde(default, skip_serializing_if = "Compression::is_gzip")]
    pub compression: Compression,
    /// An object store's filter: only the events it admits are written; the others count as
    /// handled. A stream keeps its own (changeable) filter in its settings; this one is fixed
    /// for the destination's life, and every object's summary declares it to the verifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<crate::stream::filter::Filter>,
    /// An object store's line format: v1 (the stored event, the default), OCSF or ECS, each
    /// record carrying the event's id and receipt in its `integrity` member. Fixed for life.
    #[serde(default, skip_serializing_if = "crate::stream::format::Format::is_v1")]
    pub format: crate::stream::format::Format,
    /// The OCSF class rules of an object store writing OCSF.
    #[serde(
        default,
        skip_serializing_if = "crate::stream::ocsf::OcsfMapping::is_default"
    )]
    pub ocsf_classes: crate::stream::ocsf::OcsfMapping,
    /// Set on a replay set: the destination whose events it writes again, and which windows
    /// (`replay.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<replay::Replay>,
}

impl Destination {
    /// A destination with every option at its default: gzip, no filter, v1 lines, not a
    /// replay set. Options are set with struct update syntax (`..Destination::new(..)`).
    pub fn new(id: String, tenant: String, target: Target, created_at: Timestamp) -> Destination {
        Destination {
            id,
            tenant,
            target,
            created_at,
            compression: Compression::default(),
            filter: None,
            format: crate::stream::format::Format::default(),
            ocsf_classes: crate::stream::ocsf::OcsfMapping::default(),
            replay: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    S3(S3Target),
    /// An Azure Blob Storage container (`docs/export.md`).
    Azure(AzureTarget),
    /// A local directory (local mode and on-prem): the same layout under `path`.
    Directory {
        path: String,
        prefix: String,
    },
    /// A stream to a SIEM or webhook (`crate::stream`), delivered record by record rather than
    /// as objects. Boxed: it is much larger than the object stores.
    Stream(Box<crate::stream::target::StreamSettings>),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct S3Target {
    pub bucket: String,
    pub region: Option<String>,
    pub prefix: String,
    /// Assumed through STS, with `external_id`, when set; else the exporter's own role writes.
    pub role_arn: Option<String>,
    pub external_id: Option<String>,
    /// SSE-KMS with this key when set; else the bucket's default encryption applies.
    pub kms_key_id: Option<String>,
    /// Sent as the expected bucket owner, so a bucket re-created by someone else is refused.
    pub expected_bucket_owner: Option<String>,
    /// An S3-compatible store (MinIO, Ceph, an on-prem appliance) instead of AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compatible: Option<S3Compatible>,
}

/// Where an S3-compatible store is and how the exporter signs in to it: its own endpoint,
/// path-style addressing or not, and a static access key whose secret is held by reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct S3Compatible {
    /// `https://minio.example:9000`.
    pub endpoint: String,
    /// `https://endpoint/bucket/key` rather than `https://bucket.endpoint/key`: what most
    /// S3-compatible stores expect.
    #[serde(default = "yes")]
    pub path_style: bool,
    /// Not secret: it names the key.
    pub access_key_id: String,
    /// Where the secret access key lives on the exporter's host.
    pub secret_access_key: SecretRef,
}

fn yes() -> bool {
    true
}

/// Checks an S3-compatible store's fields; pointers under `/compatible`.
fn check_compatible(target: &S3Target, compatible: &S3Compatible) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    let endpoint = &compatible.endpoint;
    let rest = endpoint
        .strip_prefix("https://")
        .or_else(|| endpoint.strip_prefix("http://"));
    if rest.is_none_or(|r| r.is_empty() || r.contains(['?', '#', '@', ' '])) || endpoint.len() > 512
    {
        problems.push((
            "/compatible/endpoint".to_string(),
            "an endpoint is an http:// or https:// URL without query, fragment or credentials"
                .to_string(),
        ));
    }
    let id = &compatible.access_key_id;
    if id.is_empty() || id.len() > 128 || !id.bytes().all(|b| b.is_ascii_graphic()) {
        problems.push((
            "/compatible/access_key_id".to_string(),
            "an access key id is 1 to 128 printable ASCII characters".to_string(),
        ));
    }
    if let Err(message) = azure::check_reference(&compatible.secret_access_key) {
        problems.push(("/compatible/secret_access_key".to_string(), message));
    }
    if target.role_arn.is_some() {
        problems.push((
            "/role_arn".to_string(),
            "an S3-compatible store has no STS to assume a role through: use its access key"
                .to_string(),
        ));
    }
    if target.kms_key_id.is_some() {
        problems.push((
            "/kms_key_id".to_string(),
            "AWS KMS keys are for AWS S3; an S3-compatible store encrypts by its own settings"
                .to_string(),
        ));
    }
    problems
}

impl Target {
    pub fn prefix(&self) -> &str {
        match self {
            Target::S3(s3) => &s3.prefix,
            Target::Azure(azure) => &azure.prefix,
            Target::Directory { prefix, .. } => prefix,
            Target::Stream(_) => "",
        }
    }

    /// `s3`, `azure`, `directory`, or the stream's target (`webhook`, `splunk`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Target::S3(_) => "s3",
            Target::Azure(_) => "azure",
            Target::Directory { .. } => "directory",
            Target::Stream(stream) => stream.target.kind(),
        }
    }

    /// Whether the destination is an object store (exported in windows) rather than a stream.
    pub fn is_object_store(&self) -> bool {
        !matches!(self, Target::Stream(_))
    }
}

/// A prefix as stored: empty, or ending in `/`, never starting with `/`, no `..` segments.
pub fn normalize_prefix(prefix: &str) -> Result<String, String> {
    let trimmed = prefix.trim_start_matches('/');
    if trimmed.split('/').any(|segment| segment == "..") {
        return Err(format!("prefix `{prefix}` may not contain `..`"));
    }
    if trimmed
        .split('/')
        .any(|segment| segment == replay::REPLAY_SEGMENT)
    {
        return Err(format!(
            "prefix `{prefix}` is taken: replay sets go under {}/",
            replay::REPLAY_SEGMENT
        ));
    }
    if trimmed.starts_with("auditlog-digest") {
        return Err(format!(
            "prefix `{prefix}` is taken: digests go under auditlog-digest/"
        ));
    }
    if trimmed.len() > 512 || trimmed.chars().any(|c| c.is_control()) {
        return Err(format!(
            "prefix `{prefix}` is too long or has control characters"
        ));
    }
    Ok(if trimmed.is_empty() || trimmed.ends_with('/') {
        trimmed.to_string()
    } else {
        format!("{trimmed}/")
    })
}

#[derive(Debug, Clone)]
pub struct ExportConfig {
    /// Window length (`AUDITLOG_EXPORT_WINDOW`), milliseconds.
    pub window_ms: i64,
    /// How long after a window's end it is closed (`AUDITLOG_EXPORT_GRACE`), milliseconds.
    pub grace_ms: i64,
    /// A part ends before its uncompressed NDJSON passes this size.
    pub max_object_bytes: usize,
    /// How long a destination's lease lasts; renewed at every window.
    pub lease_ms: i64,
    /// This exporter's name in leases (unique per process or invocation).
    pub owner: String,
    /// Destinations exported at once.
    pub concurrency: usize,
    /// Most windows one destination exports in one pass (the rest wait for the next pass);
    /// also the most digests it writes.
    pub max_windows_per_pass: usize,
    /// Length of a digest period (`AUDITLOG_DIGEST_PERIOD`), milliseconds: a multiple of the
    /// window, so that every window lies in one period.
    pub digest_period_ms: i64,
}

/// Checks an S3 destination's fields as AWS would accept them; each problem is named by its
/// JSON pointer (`/bucket`, `/role_arn`, ...) with the reason.
pub fn check_s3_target(target: &S3Target) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    let mut problem = |pointer: &str, reason: &str| {
        problems.push((pointer.to_string(), reason.to_string()));
    };
    let b = &target.bucket;
    let bucket_ok = (3..=63).contains(&b.len())
        && b.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-')
        && b.starts_with(|c: char| c.is_ascii_alphanumeric())
        && b.ends_with(|c: char| c.is_ascii_alphanumeric())
        && !b.contains("..");
    if !bucket_ok {
        problem(
            "/bucket",
            "not a valid S3 bucket name (3-63 characters: lowercase letters, digits, dots, hyphens)",
        );
    }
    if let Some(region) = &target.region
        && (region.is_empty()
            || region.len() > 32
            || !region
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-'))
    {
        problem("/region", "not an AWS region name such as eu-west-1");
    }
    if let Err(reason) = normalize_prefix(&target.prefix) {
        problem("/prefix", &reason);
    }
    match (&target.role_arn, &target.external_id) {
        (Some(arn), external_id) => {
            let parts: Vec<&str> = arn.splitn(6, ':').collect();
            let role_ok = parts.len() == 6
                && parts[0] == "arn"
                && parts[2] == "iam"
                && parts[4].len() == 12
                && parts[4].bytes().all(|c| c.is_ascii_digit())
                && parts[5].starts_with("role/")
                && parts[5].len() > 5;
            if !role_ok {
                problem(
                    "/role_arn",
                    "not an IAM role ARN (arn:aws:iam::123456789012:role/name)",
                );
            }
            // Without an external id, anyone who learns the role ARN could have us write into
            // that bucket (the confused-deputy problem).
            match external_id {
                None => problem(
                    "/external_id",
                    "required with a role ARN: the role's trust policy must demand it",
                ),
                Some(x)
                    if x.len() < 2
                        || x.len() > 1224
                        || !x
                            .bytes()
                            .all(|c| c.is_ascii_alphanumeric() || b"+=,.@:/-_".contains(&c)) =>
                {
                    problem(
                        "/external_id",
                        "2-1224 characters of letters, digits and +=,.@:/-_",
                    )
                }
                Some(_) => {}
            }
        }
        (None, Some(_)) => problem("/external_id", "only meaningful with a role ARN"),
        (None, None) => {}
    }
    if let Some(key) = &target.kms_key_id
        && (key.is_empty() || key.len() > 2048 || key.chars().any(char::is_whitespace))
    {
        problem("/kms_key_id", "not a KMS key id, alias or ARN");
    }
    if let Some(owner) = &target.expected_bucket_owner
        && (owner.len() != 12 || !owner.bytes().all(|c| c.is_ascii_digit()))
    {
        problem("/expected_bucket_owner", "not a 12-digit AWS account id");
    }
    if let Some(compatible) = &target.compatible {
        problems.extend(check_compatible(target, compatible));
    }
    problems
}

/// What the exporter knows about one destination. Updated only by a conditional write on
/// `version`, so two exporters can never both advance it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ExportState {
    pub destination_id: String,
    /// Every event received before this instant has been delivered (a window boundary).
    /// `None`: nothing delivered yet; the first pass starts at the oldest retained event.
    pub exported_through: Option<Timestamp>,
    pub version: u64,
    pub objects_delivered: u64,
    pub events_delivered: u64,
    pub last_success_at: Option<Timestamp>,
    pub last_error: Option<ExportError>,
    /// Who holds the right to export this destination, and until when.
    pub lease_owner: Option<String>,
    pub lease_until: Option<Timestamp>,
    /// The last sequence number delivered in this destination's stream (0: none yet).
    #[serde(default)]
    pub last_seq: u64,
    /// SHA-256 (hex) of the last object delivered: the next object links to it.
    #[serde(default)]
    pub last_object_sha256: Option<String>,
    /// Where the stream's digests stand.
    #[serde(default)]
    pub digest: DigestState,
    /// Paused by a person: nothing is written (objects nor digests) until resumed; the
    /// checkpoint and the configuration are kept.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
}

/// The digest period in progress and the last digest written. Changed under the same
/// compare-and-set as the checkpoint: a window's objects join `objects` when its checkpoint
/// moves, and a digest is written, then recorded here, period by period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct DigestState {
    /// Start of the period the next digest covers; `None` until the stream's first pass.
    pub period_start: Option<Timestamp>,
    /// The stream's last sequence number when that period began.
    pub seq_before: u64,
    /// The objects delivered in that period so far.
    pub objects: Vec<crate::digest::DigestObject>,
    /// The last digest written: the next one links to it.
    pub last: Option<crate::digest::DigestLink>,
    pub digests_written: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportError {
    pub at: Timestamp,
    pub message: String,
}

impl ExportState {
    pub fn new(destination_id: &str) -> Self {
        ExportState {
            destination_id: destination_id.to_string(),
            ..ExportState::default()
        }
    }

    /// Whether `owner` may take the lease at `now`: it is free, expired, or already `owner`'s.
    pub fn lease_available(&self, owner: &str, now: Timestamp) -> bool {
        match (&self.lease_owner, self.lease_until) {
            (Some(holder), Some(until)) => holder == owner || until <= now,
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn prefixes_are_normalized_and_checked() {
        assert_eq!(normalize_prefix("logs").unwrap(), "logs/");
        assert_eq!(normalize_prefix("/a/b/").unwrap(), "a/b/");
        assert_eq!(normalize_prefix("").unwrap(), "");
        assert!(normalize_prefix("a/../b").is_err());
        assert!(normalize_prefix("auditlog-digest/x/").is_err());
    }

    #[test]
    fn s3_targets_are_checked_field_by_field() {
        let good = S3Target {
            bucket: "acme-audit.logs".into(),
            region: Some("eu-west-1".into()),
            prefix: "user-events-audit/".into(),
            role_arn: Some("arn:aws:iam::111122223333:role/audit-writer".into()),
            external_id: Some("ext-123".into()),
            kms_key_id: Some("arn:aws:kms:eu-west-1:111122223333:key/abc".into()),
            expected_bucket_owner: Some("111122223333".into()),
            compatible: None,
        };
        assert!(check_s3_target(&good).is_empty());
        let bad = S3Target {
            bucket: "Acme_Audit".into(),
            region: Some("EU West".into()),
            prefix: "../x".into(),
            role_arn: Some("arn:aws:iam::1:user/x".into()),
            external_id: None,
            kms_key_id: Some("".into()),
            expected_bucket_owner: Some("12ab".into()),
            compatible: None,
        };
        let pointers: Vec<String> = check_s3_target(&bad).into_iter().map(|(p, _)| p).collect();
        assert_eq!(
            pointers,
            [
                "/bucket",
                "/region",
                "/prefix",
                "/role_arn",
                "/external_id",
                "/kms_key_id",
                "/expected_bucket_owner"
            ]
        );
        let orphan = S3Target {
            role_arn: None,
            ..good.clone()
        };
        assert_eq!(check_s3_target(&orphan)[0].0, "/external_id");
    }

    #[test]
    fn s3_compatible_stores_are_checked_field_by_field() {
        let compatible = S3Target {
            bucket: "audit".into(),
            region: None,
            prefix: "user-events-audit/".into(),
            role_arn: None,
            external_id: None,
            kms_key_id: None,
            expected_bucket_owner: None,
            compatible: Some(S3Compatible {
                endpoint: "https://minio.internal:9000".into(),
                path_style: true,
                access_key_id: "AKIAMINIO".into(),
                secret_access_key: SecretRef::File("/run/secrets/minio".into()),
            }),
        };
        assert!(check_s3_target(&compatible).is_empty());
        let bad = S3Target {
            role_arn: Some("arn:aws:iam::111122223333:role/w".into()),
            external_id: Some("ext-1".into()),
            kms_key_id: Some("alias/k".into()),
            compatible: Some(S3Compatible {
                endpoint: "ftp://minio?x=1".into(),
                path_style: false,
                access_key_id: String::new(),
                secret_access_key: SecretRef::Env("lower".into()),
            }),
            ..compatible.clone()
        };
        let pointers: Vec<String> = check_s3_target(&bad).into_iter().map(|(p, _)| p).collect();
        assert_eq!(
            pointers,
            [
                "/compatible/endpoint",
                "/compatible/access_key_id",
                "/compatible/secret_access_key",
                "/role_arn",
                "/kms_key_id"
            ]
        );
        // Stored before S3-compatible stores existed: no `compatible` member.
        let old: S3Target = serde_json::from_str(
            r#"{"bucket":"b","region":null,"prefix":"","role_arn":null,"external_id":null,"kms_key_id":null,"expected_bucket_owner":null}"#,
        )
        .unwrap();
        assert_eq!(old.compatible, None);
    }

    #[test]
    fn leases_go_to_one_owner_until_they_expire() {
        let mut state = ExportState::new("d");
        assert!(state.lease_available("a", Timestamp(0)));
        state.lease_owner = Some("a".into());
        state.lease_until = Some(Timestamp(100));
        assert!(state.lease_available("a", Timestamp(50)));
        assert!(!state.lease_available("b", Timestamp(50)));
        assert!(state.lease_available("b", Timestamp(100)));
    }
}
