//! Streams: a tenant's events delivered to SIEMs and webhooks, record by record, at least once
//! and in receive order (`docs/streams.md`). What is decided without I/O lives in
//! `auditlog_core::stream`; this is the I/O around it.
//!
//! # Layout
//!
//! The sending parts are the `streams` feature; [`status`] is always there (the ingest
//! function answers status without linking an HTTP client).
//!
//! - `client`: the one HTTP client, whose resolver checks every address it connects to, which
//!   checks every URL before sending and follows no redirect.
//! - `request`: each target's requests (body, headers, signature, gzip) and the verdict on
//!   its answers; secrets read from their references.
//! - `engine`: one pass over every stream: lease, read after the checkpoint, filter, render,
//!   batch, send, and store the checkpoint by compare-and-set after each answered batch.
//! - [`status`]: a stream's state and backlog, for `status`.

#[cfg(feature = "streams")]
pub mod client;
#[cfg(feature = "streams")]
pub mod engine;
#[cfg(feature = "streams")]
pub mod request;
pub mod status;

pub use auditlog_core::stream::delivery::StreamConfig;
#[cfg(feature = "streams")]
pub use client::{SendError, StreamClient};
#[cfg(feature = "streams")]
pub use engine::{StreamReport, deliver_stream, stream_pass};
pub use status::stream_status;
