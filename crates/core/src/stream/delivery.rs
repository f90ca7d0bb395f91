//! A stream's delivery as pure transitions of its [`StreamState`], stored like an export's state:
//! every transition returns the state one version on, and the store keeps it only by a
//! compare-and-set on `version`, so a deliverer working from a stale state can never move the
//! checkpoint (another got there first).
//!
//! The loop (in the delivering crate): take the lease; ask [`next`] what is due; read the events
//! after the checkpoint, up to `until`; keep those the filter admits; send them in batches; after
//! each answered batch store [`after_batch`] (the checkpoint moves past the batch, and past the
//! events filtered out before it) or [`after_failure`] (retry later, or stop for a person).
//!
//! Why every admitted event arrives, at least once and in order:
//! - The checkpoint moves only after the receiver has answered for the batch, so a crash or a
//!   lost answer sends the batch again (the event ids let receivers drop the repeats).
//! - Events are read in receive order (`received_at`, then `id`) and only up to `settle` before
//!   now: an event still being written with an earlier receive time than one already read
//!   cannot be passed over.
//! - Pause, a stop, and a replay only ever move the checkpoint back (replay) or not at all.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// Where a stream stands in its tenant's events, in receive order.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Position {
    pub received_at: Timestamp,
    /// The last event handled at `received_at`; `None`: none of that instant yet (a replay
    /// from `received_at` starts there, inclusive).
    pub id: Option<String>,
}

impl Position {
    /// Whether an event (`received_at`, `id`) comes after this position.
    pub fn precedes(&self, received_at: Timestamp, id: &str) -> bool {
        match &self.id {
            None => received_at >= self.received_at,
            Some(last) => (received_at, id) > (self.received_at, last.as_str()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct StreamConfig {
    /// This deliverer's name in leases (unique per process or invocation).
    pub owner: String,
    /// Events received in the last `settle_ms` wait (`AUDITLOG_STREAM_SETTLE`): one still
    /// being written with an earlier receive time cannot be passed over.
    pub settle_ms: i64,
    /// A pass ends by then (a Lambda ends cleanly before its timeout).
    pub budget: Duration,
    /// The retry backoff: `base × 2^attempts`, capped, with full jitter.
    pub retry_base: Duration,
    pub retry_cap: Duration,
    /// Streams delivered at once.
    pub concurrency: usize,
}

impl StreamConfig {
    /// A lease outlasts the pass (budget plus a request's timeout) so a live deliverer is never
    /// overtaken; a crashed one's lease frees the stream after that.
    pub fn lease_ms(&self) -> i64 {
        i64::try_from(self.budget.as_millis())
            .unwrap_or(i64::MAX / 4)
            .saturating_add(120_000)
    }
}

/// A problem, for the stream's status.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamProblem {
    pub at: Timestamp,
    pub error: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hint: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamState {
    pub destination_id: String,
    pub version: u64,
    /// Every event up to here is delivered or left out by the filter. `None`: nothing yet; the
    /// stream starts at the oldest retained event.
    pub position: Option<Position>,
    pub delivered: u64,
    pub filtered: u64,
    /// Paused by a person: configuration and checkpoint kept, nothing sent.
    #[serde(default)]
    pub paused: bool,
    /// Stopped because sending again cannot help (refused credentials, a refused mapping):
    /// nothing is sent until the configuration changes or someone resumes it.
    #[serde(default)]
    pub stopped: Option<StreamProblem>,
    /// Failures of the batch at the checkpoint in a row, and when to try it again.
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub retry_at: Option<Timestamp>,
    #[serde(default)]
    pub last_error: Option<StreamProblem>,
    #[serde(default)]
    pub last_success_at: Option<Timestamp>,
    #[serde(default)]
    pub lease_owner: Option<String>,
    #[serde(default)]
    pub lease_until: Option<Timestamp>,
}

/// What a stream does now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    Paused,
    Stopped,
    /// A failed batch waits for its retry time.
    Waiting(Timestamp),
    /// Read the events after `from` (from the start when `None`) received before `until`.
    Deliver {
        from: Option<Position>,
        until: Timestamp,
    },
}

fn bump(state: &StreamState) -> StreamState {
    let mut next = state.clone();
    next.version = state.version + 1;
    next
}

/// The state with the lease taken by `owner` until `now + lease_ms`, or `None` while another
/// deliverer holds an unexpired lease.
pub fn take_lease(
    state: &StreamState,
    owner: &str,
    now: Timestamp,
    lease_ms: i64,
) -> Option<StreamState> {
    let free = match (&state.lease_owner, state.lease_until) {
        (Some(holder), Some(until)) => holder == owner || until <= now,
        _ => true,
    };
    free.then(|| {
        let mut next = bump(state);
        next.lease_owner = Some(owner.to_string());
        next.lease_until = Some(Timestamp(now.0.saturating_add(lease_ms)));
        next
    })
}

/// The lease given back at the end of a pass.
pub fn release(state: &StreamState) -> StreamState {
    let mut next = bump(state);
    next.lease_owner = None;
    next.lease_until = None;
    next
}

/// What is due at `now`; events received in the last `settle_ms` wait (they may still be
/// joined by events with an earlier receive time).
pub fn next(state: &StreamState, now: Timestamp, settle_ms: i64) -> Next {
    if state.paused {
        return Next::Paused;
    }
    if state.stopped.is_some() {
        return Next::Stopped;
    }
    if let Some(at) = state.retry_at.filter(|at| *at > now) {
        return Next::Waiting(at);
    }
    Next::Deliver {
        from: state.position.clone(),
        until: Timestamp(now.0.saturating_sub(settle_ms)),
    }
}

/// After the receiver took a batch: the checkpoint moves to `through` (the batch's last event,
/// or a later event left out by the filter).
pub fn after_batch(
    state: &StreamState,
    through: Position,
    delivered: u64,
    filtered: u64,
    now: Timestamp,
) -> StreamState {
    let mut next = bump(state);
    if state.position.as_ref().is_none_or(|p| *p < through) {
        next.position = Some(through);
    }
    next.delivered += delivered;
    next.filtered += filtered;
    next.attempts = 0;
    next.retry_at = None;
    next.last_error = None;
    next.last_success_at = Some(now);
    next
}

/// After a batch failed: try it again at `retry_at` (the caller's backoff or `Retry-After`).
pub fn after_failure(
    state: &StreamState,
    error: &str,
    retry_at: Timestamp,
    now: Timestamp,
) -> StreamState {
    let mut next = bump(state);
    next.attempts = state.attempts.saturating_add(1);
    next.retry_at = Some(retry_at);
    next.last_error = Some(StreamProblem {
        at: now,
        error: error.to_string(),
        hint: String::new(),
    });
    next
}

/// After an answer that sending again cannot fix: the stream stops with `error` and `hint`.
pub fn stop(state: &StreamState, error: &str, hint: &str, now: Timestamp) -> StreamState {
    let mut next = bump(state);
    next.stopped = Some(StreamProblem {
        at: now,
        error: error.to_string(),
        hint: hint.to_string(),
    });
    next
}

pub fn pause(state: &StreamState) -> StreamState {
    let mut next = bump(state);
    next.paused = true;
    next
}

/// Resumed by a person: paused or stopped, it sends again at once from its checkpoint.
pub fn resume(state: &StreamState) -> StreamState {
    let mut next = bump(state);
    next.paused = false;
    next.stopped = None;
    next.attempts = 0;
    next.retry_at = None;
    next
}

/// Deliver again every event received at or after `from`: the checkpoint moves back (never
/// forward: a replay cannot skip what is not delivered yet).
pub fn replay(state: &StreamState, from: Timestamp) -> StreamState {
    let mut next = bump(state);
    let start = Position {
        received_at: from,
        id: None,
    };
    if state.position.as_ref().is_some_and(|p| start < *p) {
        next.position = Some(start);
    }
    next.retry_at = None;
    next.attempts = 0;
    next
}

#[cfg(test)]
mod tests;
