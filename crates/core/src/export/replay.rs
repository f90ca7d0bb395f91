//! Replay sets of an object store: "write again what was delivered from `T`", without touching
//! a single original object. A replay set is a destination of its own (so the same exporter,
//! state machine, leases, digests, status and verifier serve it), writing the original's events
//! again under `{prefix}_replay/{id}/`: a prefix no original object or other destination can
//! have (`normalize_prefix` refuses a `_replay` segment), with its own sequence numbers from 1,
//! its own chain and its own signed digests, so a verifier reads it as one more stream.
//!
//! It covers the windows from the one holding `from` up to `through`: the end of the digest
//! period holding `until`, the original's checkpoint when the replay was asked for. That is
//! everything then delivered, rounded up to a whole period (by the exporter's own period, so the
//! API that records the request needs no export settings) so that every digest of the set can be
//! written; then it is complete. Pure: the caller stores the destination it returns.

use serde::{Deserialize, Serialize};

use crate::Timestamp;
use crate::export::{Destination, ExportConfig, ExportState, Target, window_containing};

/// The path segment that holds every replay set under a destination's prefix.
pub const REPLAY_SEGMENT: &str = "_replay";

/// What a replay set writes again.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replay {
    /// The destination whose events it writes again.
    pub of: String,
    /// From the window holding this instant...
    pub from: Timestamp,
    /// ...to the end of the digest period holding this one (the original's checkpoint when the
    /// replay was asked for).
    pub until: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    #[error("a stream replays by moving its checkpoint back; replay sets are for object stores")]
    Stream,
    #[error("this destination is itself a replay set; replay its original")]
    OfReplay,
    #[error("nothing has been delivered to this destination yet, so there is nothing to replay")]
    NothingDelivered,
    #[error("`from` ({from}) is at or after everything delivered (through {through})")]
    FromTooLate { from: String, through: String },
}

impl Replay {
    /// Where the set ends (exclusive): the end of the digest period holding `until`, or `until`
    /// itself when it is a period boundary.
    pub fn through(&self, config: &ExportConfig) -> Timestamp {
        let period_ms = config.digest_period_ms.max(config.window_ms);
        window_containing(Timestamp(self.until.0.saturating_sub(1)), period_ms).end
    }

    /// The instant the exporter treats as "now" at most for the set, so that no window past
    /// its end is ever closed for it.
    pub fn horizon(&self, now: Timestamp, config: &ExportConfig) -> Timestamp {
        let end = self.through(config).0.saturating_add(config.grace_ms);
        Timestamp(now.0.min(end))
    }

    /// Whether every window and digest of the set is written.
    pub fn is_complete(&self, state: &ExportState, config: &ExportConfig) -> bool {
        let through = self.through(config);
        state.exported_through.is_some_and(|t| t >= through)
            && state.digest.period_start.is_some_and(|p| p >= through)
    }
}

impl Destination {
    /// The receive times still to export, `[from, to)`: from the checkpoint on (for a replay
    /// set, at the earliest its `from`), and for a replay set only up to its end: with the
    /// exporter's settings the end of its last period, without them (status, alarms) its
    /// `until`, which is what was delivered when it was asked for.
    pub fn unexported(
        &self,
        state: &ExportState,
        config: Option<&ExportConfig>,
    ) -> (Option<Timestamp>, Option<Timestamp>) {
        match &self.replay {
            None => (state.exported_through, None),
            Some(replay) => {
                // The whole window holding `from`, when the window length is known.
                let floor = config.map_or(replay.from, |c| {
                    window_containing(replay.from, c.window_ms).start
                });
                (
                    Some(state.exported_through.map_or(floor, |t| t.max(floor))),
                    Some(config.map_or(replay.until, |c| replay.through(c))),
                )
            }
        }
    }
}

/// The replay set of `original` from `from`, as a new destination `id` created at `now`.
pub fn replay_destination(
    original: &Destination,
    original_state: &ExportState,
    from: Timestamp,
    id: String,
    now: Timestamp,
) -> Result<Destination, ReplayError> {
    if !original.target.is_object_store() {
        return Err(ReplayError::Stream);
    }
    if original.replay.is_some() {
        return Err(ReplayError::OfReplay);
    }
    let checkpoint = original_state
        .exported_through
        .ok_or(ReplayError::NothingDelivered)?;
    if from >= checkpoint {
        return Err(ReplayError::FromTooLate {
            from: from.to_rfc3339(),
            through: checkpoint.to_rfc3339(),
        });
    }
    let prefix = format!("{}{REPLAY_SEGMENT}/{id}/", original.target.prefix());
    Ok(Destination {
        target: with_prefix(&original.target, prefix),
        id,
        tenant: original.tenant.clone(),
        created_at: now,
        replay: Some(Replay {
            of: original.id.clone(),
            from,
            until: checkpoint,
        }),
        ..original.clone()
    })
}

fn with_prefix(target: &Target, prefix: String) -> Target {
    let mut target = target.clone();
    match &mut target {
        Target::S3(s3) => s3.prefix = prefix,
        Target::Azure(azure) => azure.prefix = prefix,
        Target::Directory { prefix: p, .. } => *p = prefix,
        Target::Stream(_) => {}
    }
    target
}

#[cfg(test)]
mod tests;
