//! What `status` says of a stream: whether it is sending, paused, stopped (and why, with a
//! hint) or waiting to retry; how far it has come; how large and how old its backlog is; and
//! whether that backlog is nearing retention. Built from the stored state and two readings of
//! the store (the oldest pending event, and how many are pending, counted up to a cap).

use serde::Serialize;

use super::delivery::{Position, StreamProblem, StreamState};
use super::retention::at_risk;
use crate::time::Timestamp;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Condition {
    /// Sending, or caught up.
    Active,
    /// Paused by a person; the backlog grows.
    Paused,
    /// Stopped until a person acts: `error` says why, `hint` what to do.
    Stopped,
    /// The last batch failed; it is tried again at `retry_at`.
    Retrying,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Backlog {
    /// Events waiting (filtered-out ones included until the stream passes them), counted up to
    /// the cap: `at_least` says the count stopped there.
    pub events: u64,
    pub at_least: bool,
    pub oldest_received_at: Timestamp,
    pub age_ms: i64,
    /// When the oldest waiting event expires (retention), and whether that is near.
    pub expires_at: Timestamp,
    pub retention_warning: Option<String>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamStatus {
    pub destination_id: String,
    pub condition: Condition,
    pub position: Option<Position>,
    pub delivered: u64,
    pub filtered: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backlog: Option<Backlog>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<StreamProblem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<Timestamp>,
    pub attempts: u32,
    pub last_success_at: Option<Timestamp>,
}

/// The status of a stream. `pending` is the backlog as read from the store: the receive time
/// of the oldest event after the checkpoint, how many there are, and whether counting stopped
/// at its cap.
pub fn status(
    state: &StreamState,
    pending: Option<(Timestamp, u64, bool)>,
    retention_ms: i64,
    now: Timestamp,
) -> StreamStatus {
    let condition = if state.paused {
        Condition::Paused
    } else if state.stopped.is_some() {
        Condition::Stopped
    } else if state.retry_at.is_some_and(|at| at > now) {
        Condition::Retrying
    } else {
        Condition::Active
    };
    let backlog = pending.and_then(|(oldest, events, at_least)| {
        let risk = at_risk(Some(oldest), retention_ms, now)?;
        Some(Backlog {
            events,
            at_least,
            oldest_received_at: oldest,
            age_ms: now.0.saturating_sub(oldest.0).max(0),
            expires_at: risk.expires_at,
            retention_warning: risk.warn.then(|| {
                if risk.left_ms == 0 {
                    "events waiting for this destination have passed retention and are being \
                     deleted before delivery"
                        .to_string()
                } else {
                    format!(
                        "the oldest event waiting for this destination is deleted by retention \
                         at {} unless the stream catches up: resume it or fix its error",
                        risk.expires_at.to_rfc3339()
                    )
                }
            }),
        })
    });
    StreamStatus {
        destination_id: state.destination_id.clone(),
        condition,
        position: state.position.clone(),
        delivered: state.delivered,
        filtered: state.filtered,
        backlog,
        error: state.stopped.clone().or_else(|| state.last_error.clone()),
        retry_at: state.retry_at.filter(|at| *at > now),
        attempts: state.attempts,
        last_success_at: state.last_success_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::delivery::{after_failure, pause, stop};

    const DAY: i64 = 24 * 60 * 60 * 1000;

    #[test]
    fn conditions_and_backlog() {
        let now = Timestamp(100 * DAY);
        let state = StreamState {
            destination_id: "d1".into(),
            ..StreamState::default()
        };
        let fresh = status(&state, None, 90 * DAY, now);
        assert_eq!(fresh.condition, Condition::Active);
        assert_eq!(fresh.backlog, None);

        let paused = status(
            &pause(&state),
            Some((Timestamp(40 * DAY), 1000, true)),
            90 * DAY,
            now,
        );
        assert_eq!(paused.condition, Condition::Paused);
        let backlog = paused.backlog.unwrap_or_else(|| panic!("a backlog"));
        assert_eq!(
            (backlog.events, backlog.at_least, backlog.age_ms),
            (1000, true, 60 * DAY)
        );
        assert!(
            backlog
                .retention_warning
                .is_some_and(|w| w.contains("unless the stream catches up"))
        );

        let stopped = status(
            &stop(&state, "401", "check the token", now),
            None,
            90 * DAY,
            now,
        );
        assert_eq!(stopped.condition, Condition::Stopped);
        assert_eq!(
            stopped.error.map(|e| e.hint),
            Some("check the token".to_string())
        );

        let failing = after_failure(&state, "503", Timestamp(now.0 + 5_000), now);
        let retrying = status(
            &failing,
            Some((Timestamp(now.0 - 60_000), 3, false)),
            90 * DAY,
            now,
        );
        assert_eq!(retrying.condition, Condition::Retrying);
        assert_eq!(retrying.attempts, 1);
        assert_eq!(retrying.backlog.and_then(|b| b.retention_warning), None);
    }
}
