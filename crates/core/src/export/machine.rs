//! The export protocol as pure transitions of a destination's [`ExportState`].
//!
//! The engine (`auditlog-export`) is a short loop around these: read the state, ask
//! [`next_step`] what is due, do that step's I/O (write a window's objects, or a digest), then
//! store the state that the step's transition returns with a compare-and-set on `version`. Every
//! transition returns a new state one version after the one it was given, so a transition
//! computed from a stale state can never be stored: another exporter got there first, and the
//! store refuses it.
//!
//! Why nothing is lost or written twice, whatever crashes or races happen between steps:
//! - The checkpoint (`exported_through`) only moves after a window's objects exist, so a crash
//!   before the compare-and-set leaves the window to be written again, under the same names
//!   with the same bytes (the object store answers "already present").
//! - Windows are taken in receive order and only once closed (`grace` after their end), so no
//!   event can still arrive in a window once it is exported.
//! - A digest covers a period only when every window of it is behind the checkpoint, and its
//!   body is a function of the stored state: a retry writes the same digest.
//!
//! The property tests (`machine/tests.rs`) run random exporters against a model store and
//! object store, with crashes and races between steps, and check exactly that.

use crate::Timestamp;
use crate::digest::{DIGEST_FORMAT, DigestBody, DigestLink, DigestObject};
use crate::export::{
    Destination, ExportConfig, ExportError, ExportState, Window, is_closed, window_containing,
};

/// What a destination's export does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Nothing is due.
    Done,
    /// The stream's first pass: digests start with the period holding this instant.
    StartDigests(Timestamp),
    /// Every window of this period is exported (or empty): write its digest.
    Digest(Window),
    /// The first window after the checkpoint that holds an event, and is closed. Empty windows
    /// in between are skipped without a read each: the next event says where to go.
    Window(Window),
}

/// What writing one window delivered, for [`after_window`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WindowWritten {
    /// Objects now in the store for the window (created now, or found already present).
    pub objects: u64,
    pub events: u64,
    /// Where the stream stands after the window's objects.
    pub last_seq: u64,
    pub last_object_sha256: Option<String>,
    /// What the period's digest lists for these objects.
    pub digest_objects: Vec<DigestObject>,
}

/// The next state: one version on, nothing else changed.
fn bump(state: &ExportState) -> ExportState {
    let mut next = state.clone();
    next.version = state.version + 1;
    next
}

/// The next state after a step of the lease holder: one version on, the lease renewed until
/// `now + lease_ms`.
fn advance(state: &ExportState, now: Timestamp, lease_ms: i64) -> ExportState {
    let mut next = bump(state);
    next.lease_until = Some(Timestamp(now.0.saturating_add(lease_ms)));
    next
}

/// The state with the lease taken by `owner` until `now + lease_ms`, or `None` while another
/// exporter holds an unexpired lease.
pub fn take_lease(
    state: &ExportState,
    owner: &str,
    now: Timestamp,
    lease_ms: i64,
) -> Option<ExportState> {
    if !state.lease_available(owner, now) {
        return None;
    }
    let mut next = advance(state, now, lease_ms);
    next.lease_owner = Some(owner.to_string());
    Some(next)
}

/// What is due, given the receive time of the oldest event not yet exported (at or after the
/// checkpoint): the digest of the oldest complete period first, else the next closed window.
pub fn next_step(
    state: &ExportState,
    next_event: Option<Timestamp>,
    config: &ExportConfig,
    now: Timestamp,
) -> Step {
    if state.paused {
        return Step::Done;
    }
    // The next event's window, if it is closed (exportable now).
    let ready = next_event
        .map(|at| window_containing(at, config.window_ms))
        .filter(|w| is_closed(*w, now, config.grace_ms));
    // Everything before `horizon` is exported: the windows before the next event's are empty,
    // and a window that is not closed yet starts at or after the end of the last closed one.
    let closed_through = window_containing(
        Timestamp(now.0.saturating_sub(config.grace_ms)),
        config.window_ms,
    )
    .start;
    let horizon = ready.map_or(closed_through, |w| w.start);
    let period_ms = config.digest_period_ms.max(config.window_ms);
    let Some(period_start) = state.digest.period_start else {
        return Step::StartDigests(window_containing(horizon, period_ms).start);
    };
    let period = Window {
        start: period_start,
        end: Timestamp(period_start.0.saturating_add(period_ms)),
    };
    if period.end <= horizon {
        return Step::Digest(period);
    }
    ready.map_or(Step::Done, Step::Window)
}

/// After [`Step::StartDigests`]: the first period begins at `period_start`.
pub fn start_digests(
    state: &ExportState,
    period_start: Timestamp,
    now: Timestamp,
    lease_ms: i64,
) -> ExportState {
    let mut next = advance(state, now, lease_ms);
    next.digest.period_start = Some(period_start);
    next.digest.seq_before = state.last_seq;
    next
}

/// After [`Step::Window`]: the checkpoint moves past `window`, whose objects are all written.
pub fn after_window(
    state: &ExportState,
    window: Window,
    written: WindowWritten,
    now: Timestamp,
    lease_ms: i64,
) -> ExportState {
    let mut next = advance(state, now, lease_ms);
    next.exported_through = Some(window.end);
    next.objects_delivered += written.objects;
    next.events_delivered += written.events;
    next.last_seq = written.last_seq;
    next.last_object_sha256 = written.last_object_sha256;
    next.digest.objects.extend(written.digest_objects);
    next.last_success_at = Some(now);
    next.last_error = None;
    next
}

/// What the digest of `period` says (before its signature): a function of the state, so a
/// retry after a crash writes the same digest.
pub fn digest_body(
    state: &ExportState,
    destination: &Destination,
    period: Window,
    key_id: &str,
) -> DigestBody {
    DigestBody {
        format: DIGEST_FORMAT.to_string(),
        destination_id: destination.id.clone(),
        tenant: destination.tenant.clone(),
        prefix: destination.target.prefix().to_string(),
        period_start: period.start,
        period_end: period.end,
        seq_before: state.digest.seq_before,
        last_seq: state.last_seq,
        last_object_sha256: state.last_object_sha256.clone(),
        objects: state.digest.objects.clone(),
        previous_digest: state.digest.last.clone(),
        key_id: key_id.to_string(),
    }
}

/// After [`Step::Digest`]: the digest of `period` is written (`link` names it); the next period
/// starts where it ended.
pub fn after_digest(
    state: &ExportState,
    period: Window,
    link: DigestLink,
    now: Timestamp,
    lease_ms: i64,
) -> ExportState {
    let mut next = advance(state, now, lease_ms);
    next.digest.period_start = Some(period.end);
    next.digest.seq_before = state.last_seq;
    next.digest.objects.clear();
    next.digest.last = Some(link);
    next.digest.digests_written += 1;
    next
}

/// The end of a pass: the lease released, and the failure (if any) kept for `status`. The
/// checkpoint stays where the last stored step left it.
pub fn release(state: &ExportState, failure: Option<&str>, now: Timestamp) -> ExportState {
    let mut next = bump(state);
    next.lease_owner = None;
    next.lease_until = None;
    if let Some(message) = failure {
        next.last_error = Some(ExportError {
            at: now,
            message: message.to_string(),
        });
    }
    next
}

/// Paused by a person: the next passes write nothing until [`resume`].
pub fn pause(state: &ExportState) -> ExportState {
    let mut next = bump(state);
    next.paused = true;
    next
}

pub fn resume(state: &ExportState) -> ExportState {
    let mut next = bump(state);
    next.paused = false;
    next
}

/// A failure noted for `status` when no lease was taken (the destination's object store could
/// not even be reached): nothing else changes, a lease held by another exporter included.
pub fn with_error(state: &ExportState, message: &str, now: Timestamp) -> ExportState {
    let mut next = bump(state);
    next.last_error = Some(ExportError {
        at: now,
        message: message.to_string(),
    });
    next
}

#[cfg(test)]
mod tests;
