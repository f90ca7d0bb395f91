//! One delivery pass over every stream destination: a loop over the pure transitions of
//! `auditlog_core::stream::delivery`. For each stream: take the lease; while the time budget
//! lasts, read a page of events after the checkpoint (settled ones only), render those the
//! filter admits, send them in batches within the target's limits, and after each answered
//! batch store the checkpoint by compare-and-set. A failed batch is stored as a failure with its
//! retry time; an answer that needs a person stops the stream with an error and a hint. One
//! stream never holds back another: each has its own lease, state and error.

use std::time::{Duration, Instant};

use auditlog_core::Timestamp;
use auditlog_core::event::Event;
use auditlog_core::export::{Destination, Target};
use auditlog_core::store::{ExportStore, StoreError, StoredEvent};
use auditlog_core::stream::batch::{Record, batches};
use auditlog_core::stream::delivery::{self, Next, Position, StreamConfig, StreamState};
use auditlog_core::stream::format::render;
use auditlog_core::stream::target::StreamSettings;
use auditlog_core::stream::verdict::{Verdict, backoff};
use futures::StreamExt as _;
use serde::Serialize;

use super::client::{SendError, StreamClient};
use super::request::Prepared;
use super::status::read_page;

/// Rounds of sending again only the items a `_bulk` answer asked for, within one batch.
const PARTIAL_ROUNDS: usize = 3;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StreamReport {
    pub destination_id: String,
    pub tenant: String,
    pub delivered: u64,
    pub filtered: u64,
    pub requests: u64,
    /// Another deliverer holds this stream's lease; nothing was done.
    pub skipped: bool,
    /// Paused, stopped, or waiting for a retry: nothing was due.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Delivers every stream destination of every tenant once.
pub async fn stream_pass(
    store: &dyn ExportStore,
    client: &StreamClient,
    config: &StreamConfig,
    now: Timestamp,
) -> Result<Vec<StreamReport>, StoreError> {
    let destinations = store.list_destinations(None).await?;
    let runs: Vec<_> = destinations
        .iter()
        .filter_map(|d| match &d.target {
            Target::Stream(settings) => {
                Some(deliver_stream(store, client, d, settings, config, now))
            }
            _ => None,
        })
        .collect();
    Ok(futures::stream::iter(runs)
        .buffer_unordered(config.concurrency.max(1))
        .collect()
        .await)
}

/// One stream's pass, holding its lease.
struct Run<'a> {
    store: &'a dyn ExportStore,
    client: &'a StreamClient,
    destination: &'a Destination,
    settings: &'a StreamSettings,
    config: &'a StreamConfig,
    started: Instant,
    start_ms: i64,
    state: StreamState,
    report: StreamReport,
}

/// Why a pass over one stream ended early.
enum End {
    /// Another deliverer moved the state: it has the stream now.
    Lost,
    Store(StoreError),
}

impl From<StoreError> for End {
    fn from(e: StoreError) -> End {
        End::Store(e)
    }
}

/// Delivers one stream for up to the configured budget.
pub async fn deliver_stream(
    store: &dyn ExportStore,
    client: &StreamClient,
    destination: &Destination,
    settings: &StreamSettings,
    config: &StreamConfig,
    now: Timestamp,
) -> StreamReport {
    let mut report = StreamReport {
        destination_id: destination.id.clone(),
        tenant: destination.tenant.clone(),
        ..StreamReport::default()
    };
    let stored = match store.stream_state(&destination.id).await {
        Ok(state) => state,
        Err(e) => {
            report.error = Some(e.to_string());
            return report;
        }
    };
    let Some(leased) = delivery::take_lease(&stored, &config.owner, now, config.lease_ms()) else {
        report.skipped = true;
        return report;
    };
    match store.save_stream_state(&leased, stored.version).await {
        Ok(true) => {}
        Ok(false) => {
            report.skipped = true;
            return report;
        }
        Err(e) => {
            report.error = Some(e.to_string());
            return report;
        }
    }
    let mut run = Run {
        store,
        client,
        destination,
        settings,
        config,
        started: Instant::now(),
        start_ms: now.0,
        state: leased,
        report,
    };
    match run.deliver().await {
        Ok(()) => {
            let released = delivery::release(&run.state);
            let _ = run.save(released).await;
        }
        // A person's control (pause, replay) moved the state under this pass: give the lease
        // back if it is still ours, so the next pass need not wait for it to expire.
        Err(End::Lost) => {
            if let Ok(stored) = store.stream_state(&destination.id).await
                && stored.lease_owner.as_deref() == Some(config.owner.as_str())
            {
                let _ = store
                    .save_stream_state(&delivery::release(&stored), stored.version)
                    .await;
            }
        }
        Err(End::Store(e)) => {
            run.report.error = Some(e.to_string());
            let released = delivery::release(&run.state);
            let _ = run.save(released).await;
        }
    }
    run.report
}

impl Run<'_> {
    /// The sender's clock: the pass's `now`, moved on by the time spent.
    fn now(&self) -> Timestamp {
        let spent = i64::try_from(self.started.elapsed().as_millis()).unwrap_or(i64::MAX / 4);
        Timestamp(self.start_ms.saturating_add(spent))
    }

    /// Stores `next` by compare-and-set on the state this run holds.
    async fn save(&mut self, next: StreamState) -> Result<(), End> {
        if self
            .store
            .save_stream_state(&next, self.state.version)
            .await?
        {
            self.state = next;
            Ok(())
        } else {
            Err(End::Lost)
        }
    }

    async fn deliver(&mut self) -> Result<(), End> {
        let prepared = match Prepared::new(self.settings, &self.destination.tenant, self.start_ms) {
            Ok(prepared) => prepared,
            Err(e) => {
                let message = format!(
                    "{e}; set it where the deliverer runs (the destination names it, it never holds it)"
                );
                return self.failed(None, &message).await;
            }
        };
        while self.started.elapsed() < self.config.budget {
            let (from, until) = match delivery::next(&self.state, self.now(), self.config.settle_ms)
            {
                Next::Deliver { from, until } => (from, until),
                Next::Paused => return self.idle("paused"),
                Next::Stopped => return self.idle("stopped"),
                Next::Waiting(at) => return self.idle(&format!("retrying at {}", at.to_rfc3339())),
            };
            let page =
                read_page(self.store, &self.destination.tenant, from.as_ref(), until).await?;
            if page.is_empty() {
                return Ok(());
            }
            if !self.deliver_page(&prepared, &page).await? {
                return Ok(());
            }
        }
        Ok(())
    }

    fn idle(&mut self, why: &str) -> Result<(), End> {
        self.report.idle = Some(why.to_string());
        Ok(())
    }

    /// Sends one page's admitted events in batches; `false` when the stream must wait (a
    /// failure, a stop) before the next page.
    async fn deliver_page(
        &mut self,
        prepared: &Prepared<'_>,
        page: &[StoredEvent],
    ) -> Result<bool, End> {
        let mut records = Vec::new();
        let mut at = Vec::new();
        for (i, row) in page.iter().enumerate() {
            let event: Event = match serde_json::from_str(&row.json) {
                Ok(event) => event,
                Err(e) => {
                    let error = format!("stored event {} cannot be read: {e}", row.position.id);
                    self.stopped(&error, "the store holds an event that is not valid: run `auditlog verify` and report it").await?;
                    return Ok(false);
                }
            };
            if self.settings.filter.admits(&event) {
                records.push(Record {
                    id: event.id.to_string(),
                    occurred_at: event.occurred_at,
                    service: event
                        .source
                        .as_ref()
                        .and_then(|s| s.service.as_deref().map(str::to_string)),
                    json: render(&event, &row.json, self.settings.format, &self.settings.ocsf),
                });
                at.push(i);
            }
        }
        let last = page.len() - 1;
        let runs = batches(&records, prepared.limits(), |r| prepared.size(r));
        if runs.is_empty() {
            self.save(delivery::after_batch(
                &self.state,
                position(&page[last]),
                0,
                page.len() as u64,
                self.now(),
            ))
            .await?;
            self.report.filtered += page.len() as u64;
            return Ok(true);
        }
        let mut span_start = 0;
        for (k, run) in runs.iter().enumerate() {
            let through = if k + 1 == runs.len() {
                last
            } else {
                at[run.end - 1]
            };
            if !self.send(prepared, &records[run.clone()]).await? {
                return Ok(false);
            }
            let delivered = run.len() as u64;
            let filtered = (through + 1 - span_start) as u64 - delivered;
            let next = delivery::after_batch(
                &self.state,
                position(&page[through]),
                delivered,
                filtered,
                self.now(),
            );
            self.save(next).await?;
            self.report.delivered += delivered;
            self.report.filtered += filtered;
            span_start = through + 1;
            if self.started.elapsed() >= self.config.budget && k + 1 < runs.len() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Sends one batch (and, after a partial answer, its refused items again); `true` when
    /// every record is at the receiver.
    async fn send(&mut self, prepared: &Prepared<'_>, batch: &[Record]) -> Result<bool, End> {
        let mut pending: Vec<Record> = batch.to_vec();
        for _ in 0..PARTIAL_ROUNDS {
            let now_ms = self.now().0;
            self.report.requests += 1;
            let answer = match self.client.post(prepared.request(&pending, now_ms)).await {
                Ok(answer) => answer,
                Err(SendError::Refused(why)) => {
                    let error = format!("the destination URL is refused: {why}");
                    self.stopped(&error, "change the destination's URL to a public https receiver, or ask the operator to allow it").await?;
                    return Ok(false);
                }
                Err(e @ SendError::NoAnswer(_)) => {
                    self.failed(None, &e.to_string()).await?;
                    return Ok(false);
                }
            };
            match prepared.verdict(&answer, pending.len(), self.now().0) {
                Verdict::Delivered => return Ok(true),
                Verdict::Partial { retry } => {
                    pending = retry
                        .iter()
                        .filter_map(|&i| pending.get(i).cloned())
                        .collect();
                }
                Verdict::Retry { after, reason } => {
                    self.failed(after, &reason).await?;
                    return Ok(false);
                }
                Verdict::Stop { error, hint } => {
                    self.stopped(&error, &hint).await?;
                    return Ok(false);
                }
            }
        }
        let reason = format!(
            "the receiver still asks for {} of the batch's records to be sent again",
            pending.len()
        );
        self.failed(None, &reason).await?;
        Ok(false)
    }

    /// Stores a failure: the batch is tried again after `after` (the receiver's `Retry-After`)
    /// or the backoff.
    async fn failed(&mut self, after: Option<Duration>, error: &str) -> Result<(), End> {
        let wait = after.unwrap_or_else(|| {
            backoff(
                self.state.attempts,
                self.config.retry_base,
                self.config.retry_cap,
                rand::random::<f64>(),
            )
        });
        let now = self.now();
        let wait_ms = i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 4);
        let retry_at = Timestamp(now.0.saturating_add(wait_ms));
        tracing::warn!(destination = %self.destination.id, tenant = %self.destination.tenant, error, retry_at = %retry_at.to_rfc3339(), "stream delivery failed; the batch is sent again later");
        self.report.error = Some(error.to_string());
        let next = delivery::after_failure(&self.state, error, retry_at, now);
        self.save(next).await
    }

    async fn stopped(&mut self, error: &str, hint: &str) -> Result<(), End> {
        tracing::warn!(destination = %self.destination.id, tenant = %self.destination.tenant, error, hint, "stream stopped until a person acts");
        self.report.error = Some(error.to_string());
        let next = delivery::stop(&self.state, error, hint, self.now());
        self.save(next).await
    }
}

fn position(row: &StoredEvent) -> Position {
    Position {
        received_at: row.position.received_at,
        id: Some(row.position.id.clone()),
    }
}
