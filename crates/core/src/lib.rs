//! The auditlog domain: what an audit event is, how client input becomes one, and the traits a
//! store implements. No I/O, no clocks, no randomness, no async runtime: time and random bytes
//! come from the caller, which keeps every function here deterministic and testable, and lets
//! this crate build for WebAssembly.
//!
//! # Layout
//!
//! - [`event`]: the stored event, schema v1.
//! - [`ingest`]: splitting a request body into items (one event, or a batch envelope);
//!   [`ingest_answer`]: the per-item answer to it; [`api_error`]: the body of every error answer.
//! - [`validate`]: one item → a valid [`event::Event`], or every field error with its JSON
//!   pointer; size and count [`validate::Limits`].
//! - [`redact`]: masking secret-looking values in `request.params` and `metadata`.
//! - [`query`]: query filters, parsed from a query string; [`cursor`]: signed page cursors.
//! - [`keys`]: API key format, hashing, scopes, tenant names.
//! - [`edge`]: the edge flavour of ingest (validate and mask, forward nothing stored), for the
//!   WebAssembly module in `functions/edge`.
//! - [`encode`]: NDJSON batch encoding (the body of export objects).
//! - [`object_keys`]: windows, and every object and digest key, built and parsed in one place.
//! - [`export`]: destinations and the exactly-once export state; [`export::machine`]: its pure
//!   transitions (take a lease, next step, after a window, after a digest, release);
//!   [`export::ObjectOptions`]: an object store's compression, filter and format, read alike
//!   from the API, a declaration and the command line.
//! - [`integrity`]: tamper evidence: the canonical form and receipt of an event, the integrity
//!   member of export lines, and the verifier's checks of a stream of objects.
//! - [`digest`]: the signed digest of each period of a stream, and the verifier's checks of a
//!   stream's digests; [`signing`]: the Ed25519 keys that sign them, and their public form.
//! - `event_json`, `json_write`: the stored JSON of an event, written without serde's escaper
//!   (the canonical form of [`integrity`] uses the same writer); `byte_scan`: the escape and
//!   printable-ASCII tests, eight bytes at a time.
//! - `wire`: the typed fast path of ingest, falling back to [`validate`] on anything unusual:
//!   a batch read and prepared in one pass (`wire/batch.rs`), free-form objects read into a
//!   borrowed tree (`wire/free.rs`).
//! - [`self_audit`]: the `auditlog.` events the service records about its own use.
//! - [`store`]: the storage traits, one per operation.
//! - [`stream`]: delivery to SIEMs and webhooks: filters, and the OCSF and ECS formats.
//! - [`time`]: timestamps as the API speaks them.

pub mod api_error;
mod byte_scan;
pub mod cursor;
pub mod digest;
pub mod edge;
pub mod encode;
pub mod event;
mod event_json;
pub mod export;
pub mod ingest;
pub mod ingest_answer;
pub mod integrity;
mod json_write;
pub mod keys;
pub mod object_keys;
pub mod query;
pub mod redact;
pub mod self_audit;
pub mod signing;
pub mod store;
pub mod stream;
pub mod strict;
pub mod time;
pub mod validate;
pub mod viewer;
mod wire;

pub use event::Event;
pub use time::Timestamp;
