//! The exporter: every event a tenant sends ends up, exactly once, in each of the tenant's
//! destinations, as gzip-compressed NDJSON objects named by window (see `docs/export.md`).
//!
//! # Layout
//!
//! - [`sink`]: the [`sink::ObjectSink`] trait every object store implements: create if absent,
//!   read back, list. The exactly-once rule on top of it (on a conflict, confirm the existing
//!   object has the same bytes) is its provided `put_if_absent`, written once for all stores.
//! - `azure`: the Azure Blob Storage store (through `object_store`), and `azure_errors`,
//!   which turns an Azure failure into a precise message and a hint. The `azure` feature.
//! - [`directory`]: the local-directory sink (temp file, fsync, no-clobber link, fsync).
//! - [`s3`]: the S3 sink (no ACL, expected owner, SHA-256 checksum, SSE-KMS, `If-None-Match`),
//!   and [`s3_errors`], which turns an S3 failure into a precise message and a hint.
//! - [`sinks`]: the sink of each destination (S3 clients cached per role, credentials
//!   refreshed before expiry). The S3 parts are the `s3` feature (on by default).
//! - [`secrets`]: credentials held by reference, read when a client is built.
//! - [`status`]: a destination's health (state and backlog) as a JSON document.
//! - [`verify`]: a verification write through a destination's real path.
//! - [`parts`]: streaming NDJSON + gzip or zstd encoding, split into parts past a size.
//! - [`rows`]: one stored event as its destination wants it (filter, format).
//! - [`engine`]: one pass over all destinations, a loop over the pure state machine
//!   (`auditlog_core::export::machine`): read the state, ask for the next step, write, then
//!   compare-and-set.
//! - `backlog`: what waits to be exported (the count `status` shows, the age the export
//!   function publishes), and the store page read the pass shares with it.
//! - [`streams`]: exported streams and digests listed and read back through any object store
//!   (a local copy, S3), for `auditlog verify`.
//! - [`signing_keys`]: the digest signing keys: made on first use, rotated on demand.
//! - `deliver`: streams to SIEMs and webhooks (the `streams` feature): the HTTP client that
//!   checks every address, each target's requests and verdicts, the delivery pass, status.

#[cfg(feature = "azure")]
pub mod azure;
#[cfg(feature = "azure")]
pub mod azure_errors;
mod backlog;
pub mod deliver;
pub mod directory;
pub mod engine;
pub mod parts;
pub mod rows;
#[cfg(feature = "s3")]
pub mod s3;
pub mod s3_errors;
pub mod secrets;
pub mod signing_keys;
pub mod sink;
#[cfg(feature = "s3")]
pub mod sinks;
pub mod status;
pub mod streams;
pub mod verify;

pub use engine::{ExportConfig, PassReport, export_destination, export_pass};
#[cfg(feature = "s3")]
pub use sinks::Sinks;
pub use status::{DestinationStatus, destination_status};
pub use verify::verify_destination;
