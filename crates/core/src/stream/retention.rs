//! The retention guard for streams. Stored events expire (`AUDITLOG_RETENTION`; DynamoDB's TTL
//! deletes on its own schedule and cannot be held back per destination), so a stream that
//! falls behind (paused, stopped, or failing) must be reported well before its oldest
//! undelivered event could expire. [`at_risk`] says how long is left, and warns once the oldest
//! undelivered event is half the retention old: the status shows it and the service logs it on
//! every pass.

use crate::time::Timestamp;

/// How close a stream's backlog is to expiring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Risk {
    /// When the oldest undelivered event expires.
    pub expires_at: Timestamp,
    /// Time left until then (0 when already past: events were lost to retention).
    pub left_ms: i64,
    /// Whether to warn now.
    pub warn: bool,
}

/// The risk for a stream whose oldest undelivered event was received at `oldest_pending`;
/// `None` when nothing is pending.
pub fn at_risk(
    oldest_pending: Option<Timestamp>,
    retention_ms: i64,
    now: Timestamp,
) -> Option<Risk> {
    let received = oldest_pending?;
    let expires_at = Timestamp(received.0.saturating_add(retention_ms));
    let left_ms = expires_at.0.saturating_sub(now.0).max(0);
    // Half the retention left: with 90 days, 45 days to notice and act before anything is lost.
    Some(Risk {
        expires_at,
        left_ms,
        warn: left_ms <= retention_ms / 2,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 24 * 60 * 60 * 1000;

    #[test]
    fn warns_at_half_the_retention() {
        let now = Timestamp(100 * DAY);
        assert_eq!(at_risk(None, 90 * DAY, now), None);
        // 90 days' retention, 10 days behind: 80 days left, no warning.
        let fine = at_risk(Some(Timestamp(90 * DAY)), 90 * DAY, now);
        assert_eq!(fine.map(|r| (r.left_ms / DAY, r.warn)), Some((80, false)));
        // 46 days behind: 44 days left, warn.
        let close = at_risk(Some(Timestamp(54 * DAY)), 90 * DAY, now);
        assert_eq!(close.map(|r| (r.left_ms / DAY, r.warn)), Some((44, true)));
        // Past it: nothing left, warn.
        let lost = at_risk(Some(Timestamp(DAY)), 90 * DAY, now);
        assert_eq!(lost.map(|r| (r.left_ms, r.warn)), Some((0, true)));
        // A 1-day retention warns at half of it.
        let short = at_risk(Some(Timestamp(now.0 - DAY / 2 - 1)), DAY, now);
        assert_eq!(short.map(|r| r.warn), Some(true));
        let short_fine = at_risk(Some(Timestamp(now.0 - DAY / 4)), DAY, now);
        assert_eq!(short_fine.map(|r| r.warn), Some(false));
    }
}
