//! Streams: a tenant's events delivered to SIEMs and webhooks, record by record. This module
//! holds what a delivery decides without I/O:
//!
//! # Layout
//!
//! - [`address`]: where a delivery may go: `https` and public addresses only, unless the
//!   operator allows more; checked when a destination is saved and again at every connection.
//! - [`delivery`]: a stream's checkpoint as pure transitions (lease, next, after a batch, after
//!   a failure, stop, pause, resume, replay), stored by compare-and-set like an export's.
//! - [`retention`]: how close a stream's backlog is to expiring, for its status.
//! - [`status`]: what `status` says of a stream (condition, error and hint, backlog and its
//!   retention warning).
//! - [`target`]: a stream destination as described (webhook, Splunk, Datadog, Elasticsearch;
//!   format, filter, OCSF classes; secrets as references), checked with JSON pointers.
//! - [`verb`]: what an action does (create, read, update, delete, log in, ...), read from its
//!   last segment; shared by the formats.
//! - [`filter`]: which events a destination takes (include and exclude by action, exact or
//!   prefix, and by outcome).
//! - [`format`](mod@format): how an event is written for a destination: our own v1, OCSF or ECS.
//! - [`ocsf`]: the OCSF mapping (API Activity, Authentication, Account Change), with per-prefix
//!   class overrides; [`ecs`]: the Elastic Common Schema mapping.
//! - [`webhook`]: Standard Webhooks signatures, with two secrets signing during a rotation.
//! - [`batch`]: records cut into requests within a target's limits; a webhook's JSON array.
//! - [`splunk`], [`datadog`], [`bulk`]: each target's request body, built purely, and (Splunk,
//!   `_bulk`) what its answer means; [`verdict`]: the HTTP layer of that (retry, `Retry-After`,
//!   backoff with jitter, or stop for a person).

pub mod address;
pub mod batch;
pub mod bulk;
pub mod datadog;
pub mod delivery;
pub mod ecs;
pub mod filter;
pub mod format;
pub mod ocsf;
pub mod retention;
pub mod splunk;
pub mod status;
pub mod target;
pub mod verb;
pub mod verdict;
pub mod webhook;
