//! Export, the pure part: destinations, windows, object names, and the per-destination state
//! that makes delivery exactly-once. The exporter (`auditlog-export`) does the I/O.
//!
//! Windows are aligned slices of receive time (`[start, end)`, `start` a multiple of the window
//! length since the epoch). A window is closed, and may be exported, once `end + grace` has
//! passed: the grace covers writes still in flight when the window ends (a request's events
//! carry the time the request arrived) and index propagation. Every event therefore belongs to
//! exactly one window, fixed when it is stored, and every window is written once.
//!
//! # Layout
//!
//! - this file: a destination and its target, the export configuration and state;
//! - `s3.rs`, `azure.rs`: the object stores' targets and the checks of their fields;
//! - `options.rs`: an object store's compression, filter and format; `replay.rs`: replay sets;
//! - `machine.rs`: the pure transitions of the exactly-once state.

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
mod s3;

pub use options::{GivenOptions, ObjectOptions};
pub use s3::{S3Compatible, S3Target, check_s3_target};

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

/// Why an object prefix was refused; the text names the prefix and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrefixError {
    #[error("prefix `{0}` may not contain `..`")]
    DotDot(String),
    #[error("prefix `{0}` is taken: replay sets go under {segment}/", segment = replay::REPLAY_SEGMENT)]
    Replay(String),
    #[error("prefix `{0}` is taken: digests go under auditlog-digest/")]
    Digests(String),
    #[error("prefix `{0}` is too long or has control characters")]
    Shape(String),
}

/// A prefix as stored: empty, or ending in `/`, never starting with `/`, no `..` segments.
pub fn normalize_prefix(prefix: &str) -> Result<String, PrefixError> {
    let trimmed = prefix.trim_start_matches('/');
    if trimmed.split('/').any(|segment| segment == "..") {
        return Err(PrefixError::DotDot(prefix.to_string()));
    }
    if trimmed
        .split('/')
        .any(|segment| segment == replay::REPLAY_SEGMENT)
    {
        return Err(PrefixError::Replay(prefix.to_string()));
    }
    if trimmed.starts_with("auditlog-digest") {
        return Err(PrefixError::Digests(prefix.to_string()));
    }
    if trimmed.len() > 512 || trimmed.chars().any(|c| c.is_control()) {
        return Err(PrefixError::Shape(prefix.to_string()));
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
