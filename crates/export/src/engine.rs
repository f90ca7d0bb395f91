//! One export pass. For each destination: take its lease (a compare-and-set on its state), then
//! for each closed window after the checkpoint, in order: stream the window's events into
//! parts, create each part's object if absent, and only then advance the checkpoint (again a
//! compare-and-set). A crash anywhere leaves the checkpoint at the last window fully written;
//! the retry writes the same names with the same bytes, which the sink accepts as present.

use std::sync::Arc;

use async_trait::async_trait;
use auditlog_core::Timestamp;
use auditlog_core::cursor::Position;
use auditlog_core::digest::{DigestLink, DigestObject, signed_digest};
pub use auditlog_core::export::ExportConfig;
use auditlog_core::export::machine::{self, Step, WindowWritten};
use auditlog_core::export::{Destination, ExportState};
use auditlog_core::object_keys::{Window, digest_key, object_key};
use auditlog_core::query::{EventQuery, Order};
use auditlog_core::signing::{SigningKeyRecord, key_in_force};
use auditlog_core::store::{ExportStore, StoreError};
use futures::StreamExt as _;
use sha2::{Digest as _, Sha256};

use crate::parts::{Part, PartEncoder};
use crate::rows::{Row, encode_row};
use crate::sink::{ObjectSink, PutOutcome, SinkError};

pub use crate::backlog::{BACKLOG_COUNT_CAP, Backlog, backlog, oldest_unexported};
use crate::backlog::{PAGE, first_event_at_or_after, page};

/// Makes the sink of a destination (for S3, with its credentials).
#[async_trait]
pub trait SinkFactory: Send + Sync {
    async fn sink_for(&self, destination: &Destination) -> Result<Arc<dyn ObjectSink>, SinkError>;
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DestinationReport {
    pub destination_id: String,
    pub tenant: String,
    pub windows: u64,
    pub objects_created: u64,
    pub objects_already_present: u64,
    pub events: u64,
    pub digests_written: u64,
    pub exported_through: Option<Timestamp>,
    /// Another exporter holds this destination's lease; nothing was done.
    pub skipped: bool,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct PassReport {
    pub destinations: Vec<DestinationReport>,
}

impl PassReport {
    pub fn failed(&self) -> usize {
        self.destinations
            .iter()
            .filter(|d| d.error.is_some())
            .count()
    }

    /// The pass as JSON: what `auditlog export` prints and the export function returns.
    pub fn summary(&self) -> serde_json::Value {
        serde_json::json!({
            "destinations": self.destinations,
            "failed": self.failed(),
            "events": self.destinations.iter().map(|d| d.events).sum::<u64>(),
            "objects_created": self.destinations.iter().map(|d| d.objects_created).sum::<u64>(),
            "digests_written": self.destinations.iter().map(|d| d.digests_written).sum::<u64>(),
        })
    }
}

#[derive(Debug, thiserror::Error)]
enum WindowError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error("a stored event cannot be exported: {0}")]
    Integrity(#[from] auditlog_core::integrity::IntegrityError),
    #[error(transparent)]
    Part(#[from] crate::parts::PartError),
    #[error("cannot write a digest: {0}")]
    Digest(#[from] auditlog_core::digest::DigestError),
    #[error("no signing key for digests")]
    NoSigningKey,
    #[error("lost the lease while exporting; the next pass resumes")]
    LostLease,
}

/// Exports every destination of every tenant; one failing destination does not hold back the
/// others (each has its own lease, state and error).
pub async fn export_pass(
    store: &dyn ExportStore,
    sinks: &dyn SinkFactory,
    config: &ExportConfig,
    now: Timestamp,
) -> Result<PassReport, StoreError> {
    let destinations = store.list_destinations(None).await?;
    let exports: Vec<_> = destinations
        .iter()
        .filter(|d| d.target.is_object_store())
        .map(|destination| export_one(store, sinks, destination, config, now))
        .collect();
    let reports = futures::stream::iter(exports)
        .buffer_unordered(config.concurrency.max(1))
        .collect::<Vec<_>>()
        .await;
    Ok(PassReport {
        destinations: reports,
    })
}

async fn export_one(
    store: &dyn ExportStore,
    sinks: &dyn SinkFactory,
    destination: &Destination,
    config: &ExportConfig,
    now: Timestamp,
) -> DestinationReport {
    match sinks.sink_for(destination).await {
        Ok(sink) => export_destination(store, sink.as_ref(), destination, config, now).await,
        Err(e) => {
            let mut report = report_for(destination);
            let message = e.to_string();
            record_error(store, destination, &message, now).await;
            report.error = Some(message);
            report
        }
    }
}

fn report_for(destination: &Destination) -> DestinationReport {
    DestinationReport {
        destination_id: destination.id.clone(),
        tenant: destination.tenant.clone(),
        ..DestinationReport::default()
    }
}

/// Notes a failure in the destination's state (for `status`) without touching its checkpoint.
async fn record_error(
    store: &dyn ExportStore,
    destination: &Destination,
    message: &str,
    now: Timestamp,
) {
    for _ in 0..3 {
        let Ok(state) = store.export_state(&destination.id).await else {
            return;
        };
        let next = machine::with_error(&state, message, now);
        if let Ok(true) = store.save_export_state(&next, state.version).await {
            return;
        }
    }
}

/// Exports one destination's closed windows after its checkpoint: take the lease, run the
/// steps, release the lease (keeping the failure, if any, for `status`).
pub async fn export_destination(
    store: &dyn ExportStore,
    sink: &dyn ObjectSink,
    destination: &Destination,
    config: &ExportConfig,
    now: Timestamp,
) -> DestinationReport {
    let mut report = report_for(destination);
    let stored = match store.export_state(&destination.id).await {
        Ok(state) => state,
        Err(e) => {
            report.error = Some(e.to_string());
            return report;
        }
    };
    let Some(leased) = machine::take_lease(&stored, &config.owner, now, config.lease_ms) else {
        report.skipped = true;
        report.exported_through = stored.exported_through;
        return report;
    };
    let mut state = match store.save_export_state(&leased, stored.version).await {
        Ok(true) => leased,
        Ok(false) => {
            report.skipped = true;
            return report;
        }
        Err(e) => {
            report.error = Some(e.to_string());
            return report;
        }
    };
    let mut run = Run {
        store,
        sink,
        destination,
        config,
        now,
        keys: None,
    };
    let failure = run
        .steps(&mut state, &mut report)
        .await
        .err()
        .map(|e| e.to_string());
    if let Some(message) = &failure {
        tracing::warn!(destination = %destination.id, tenant = %destination.tenant, sink = %sink.describe(), error = %message, "export failed; the checkpoint stays at the last window written");
    }
    let released = machine::release(&state, failure.as_deref(), now);
    if let Ok(true) = store.save_export_state(&released, state.version).await {
        state = released;
    }
    report.exported_through = state.exported_through;
    report.error = failure;
    report
}

/// One destination's pass, holding its lease.
struct Run<'a> {
    store: &'a dyn ExportStore,
    sink: &'a dyn ObjectSink,
    destination: &'a Destination,
    config: &'a ExportConfig,
    now: Timestamp,
    /// The signing keys, read once per pass when a digest is due.
    keys: Option<Vec<SigningKeyRecord>>,
}

impl Run<'_> {
    /// The loop: ask the state machine what is due, do its I/O, store the state it returns
    /// with a compare-and-set. `Err` says why the pass stopped early.
    async fn steps(
        &mut self,
        state: &mut ExportState,
        report: &mut DestinationReport,
    ) -> Result<(), WindowError> {
        let (now, lease_ms) = (self.now, self.config.lease_ms);
        // A replay set sees no window past its end as closed, whatever the time.
        let horizon = match &self.destination.replay {
            Some(replay) => replay.horizon(now, self.config),
            None => now,
        };
        for _ in 0..self.config.max_windows_per_pass {
            let (from, _) = self.destination.unexported(state, Some(self.config));
            let next_event =
                first_event_at_or_after(self.store, &self.destination.tenant, from, now)
                    .await?
                    .map(|p| p.received_at);
            let next = match machine::next_step(state, next_event, self.config, horizon) {
                Step::Done => return Ok(()),
                Step::StartDigests(start) => machine::start_digests(state, start, now, lease_ms),
                Step::Digest(period) => {
                    let link = self.write_digest(state, period).await?;
                    report.digests_written += 1;
                    machine::after_digest(state, period, link, now, lease_ms)
                }
                Step::Window(window) => {
                    let tally = export_window(
                        self.store,
                        self.sink,
                        self.destination,
                        state,
                        window,
                        self.config,
                        now,
                    )
                    .await?;
                    report.windows += 1;
                    report.objects_created += tally.created;
                    report.objects_already_present += tally.present;
                    report.events += tally.events;
                    machine::after_window(state, window, tally.written(), now, lease_ms)
                }
            };
            match self.store.save_export_state(&next, state.version).await {
                Ok(true) => *state = next,
                Ok(false) => return Err(WindowError::LostLease),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Writes the digest of `period` (every window of it exported); returns the link the next
    /// digest carries.
    async fn write_digest(
        &mut self,
        state: &ExportState,
        period: Window,
    ) -> Result<DigestLink, WindowError> {
        if self.keys.is_none() {
            self.keys = Some(crate::signing_keys::signing_keys(self.store, self.now).await?);
        }
        let key = self
            .keys
            .as_deref()
            .and_then(|keys| key_in_force(keys, period.end))
            .ok_or(WindowError::NoSigningKey)?;
        let body = machine::digest_body(state, self.destination, period, &key.key_id);
        let bytes = signed_digest(&body, key)?;
        let sha256: [u8; 32] = Sha256::digest(&bytes).into();
        let name = digest_key(&body.prefix, &self.destination.tenant, period);
        self.sink.put_if_absent(&name, bytes, sha256).await?;
        Ok(DigestLink {
            key: name,
            sha256: hex::encode(sha256),
        })
    }
}

/// Streams one window into parts and writes each, continuing the destination's stream from
/// `state` (sequence numbers, link to the last object).
async fn export_window(
    store: &dyn ExportStore,
    sink: &dyn ObjectSink,
    destination: &Destination,
    state: &ExportState,
    window: Window,
    config: &ExportConfig,
    now: Timestamp,
) -> Result<Tally, WindowError> {
    let prefix = destination.target.prefix();
    let query = EventQuery {
        from: Some(window.start),
        to: Some(window.end),
        limit: PAGE,
        order: Order::Asc,
        ..EventQuery::default()
    };
    let mut encoder = PartEncoder::new(
        config.max_object_bytes,
        destination.compression,
        state.last_seq,
        state.last_object_sha256.clone(),
    )
    .with_filter(destination.filter.clone());
    let mut after: Option<Position> = None;
    let mut tally = Tally::default();
    loop {
        let rows = page(store, &destination.tenant, &query, after.as_ref(), now).await?;
        let done = rows.len() < PAGE;
        for row in &rows {
            match encode_row(&mut encoder, destination, row)? {
                // Handled: the checkpoint moves past the window with it.
                Row::Filtered => tally.filtered += 1,
                Row::Written(Some(part)) => {
                    tally.add(sink, prefix, destination, window, part).await?;
                }
                Row::Written(None) => {}
            }
        }
        after = rows.last().map(|r| r.position.clone());
        if done || after.is_none() {
            break;
        }
    }
    if let Some(part) = encoder.finish()? {
        tally.add(sink, prefix, destination, window, part).await?;
    }
    if tally.filtered > 0 {
        tracing::debug!(destination = %destination.id, filtered = tally.filtered, "events left out by the destination's filter");
    }
    tally.last_seq = encoder.last_seq();
    tally.last_object_sha256 = encoder.previous_object_sha256().map(str::to_string);
    Ok(tally)
}

/// The parts of one window written so far, and where the stream stands after them.
#[derive(Default)]
struct Tally {
    next_part: u32,
    created: u64,
    present: u64,
    events: u64,
    last_seq: u64,
    last_object_sha256: Option<String>,
    /// Events the destination's filter left out.
    filtered: u64,
    /// What the period's digest will list for these parts.
    digest_objects: Vec<DigestObject>,
}

impl Tally {
    /// What the state machine records for the window.
    fn written(self) -> WindowWritten {
        WindowWritten {
            objects: self.created + self.present,
            events: self.events,
            last_seq: self.last_seq,
            last_object_sha256: self.last_object_sha256,
            digest_objects: self.digest_objects,
        }
    }

    async fn add(
        &mut self,
        sink: &dyn ObjectSink,
        prefix: &str,
        destination: &Destination,
        window: Window,
        part: Part,
    ) -> Result<(), WindowError> {
        let key = object_key(
            prefix,
            &destination.tenant,
            window,
            self.next_part,
            destination.compression,
        );
        let events = part.events;
        self.digest_objects.push(DigestObject {
            key: key.clone(),
            first_seq: part.first_seq,
            last_seq: part.last_seq,
            count: part.events,
            sha256: hex::encode(part.sha256),
            ndjson_sha256: hex::encode(part.ndjson_sha256),
        });
        match sink.put_if_absent(&key, part.body, part.sha256).await? {
            PutOutcome::Created => self.created += 1,
            PutOutcome::AlreadyPresent => self.present += 1,
        }
        self.events += events;
        self.next_part += 1;
        Ok(())
    }
}
