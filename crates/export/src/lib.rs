//! The exporter: every event a tenant sends ends up, exactly once, in each of the tenant's
//! destinations, as gzip-compressed NDJSON objects named by window (see `docs/export.md`).
//!
//! # Layout
//!
//! - [`sink`]: the [`sink::ObjectSink`] trait every destination implements (create an object
//!   only if absent; on a conflict, confirm the existing object has the same bytes).
//! - [`directory`]: the local-directory sink (temp file, fsync, no-clobber link, fsync).
//! - [`parts`]: streaming NDJSON + gzip encoding, split into parts past a size.
//! - [`engine`]: one pass over all destinations: lease, windows, parts, checkpoint.

pub mod directory;
pub mod engine;
pub mod parts;
pub mod sink;

pub use engine::{ExportConfig, PassReport, export_destination, export_pass};
