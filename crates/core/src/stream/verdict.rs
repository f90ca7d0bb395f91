//! What a receiver's answer means for a delivery: delivered, send again (after how long), or
//! stop the stream until a person acts. Each target's own answer format refines this (HEC's
//! codes, `_bulk`'s per-item results); this is the HTTP layer they share.

use std::time::Duration;

/// The longest wait a `Retry-After` is followed for; longer is capped (the stream's status shows
/// the receiver asked for more).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every record of the request is at the receiver (an already-delivered one included).
    Delivered,
    /// The records at these positions of the request must be sent again; the rest arrived.
    Partial { retry: Vec<usize> },
    /// Nothing is known to have arrived: send the same request again, after `after` when the
    /// receiver said (`Retry-After`), else after the backoff.
    Retry {
        after: Option<Duration>,
        reason: String,
    },
    /// Sending again cannot help: the stream stops, with this error and hint in its status,
    /// until its configuration changes or an operator resumes it.
    Stop { error: String, hint: String },
}

impl Verdict {
    pub fn stop(error: impl Into<String>, hint: impl Into<String>) -> Verdict {
        Verdict::Stop {
            error: error.into(),
            hint: hint.into(),
        }
    }

    fn retry(after: Option<Duration>, reason: impl Into<String>) -> Verdict {
        Verdict::Retry {
            after,
            reason: reason.into(),
        }
    }
}

/// `Retry-After`: a number of seconds, or an HTTP date (`now_ms` is the sender's clock), capped at
/// [`MAX_RETRY_AFTER`]. `None` when absent or unreadable.
pub fn retry_after(value: Option<&str>, now_ms: i64) -> Option<Duration> {
    let value = value?.trim();
    let wait = match value.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => {
            let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
            let ms = at.timestamp_millis().saturating_sub(now_ms).max(0);
            Duration::from_millis(u64::try_from(ms).unwrap_or(0))
        }
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// The HTTP status alone: 2xx delivered; 408, 425, 429 and 5xx retried (honouring
/// `Retry-After`); 401 and 403 stop (credentials); 3xx stop (redirects are not followed: the
/// URL must name the receiver itself); other 4xx stop (the request is wrong for this receiver).
pub fn from_status(status: u16, retry_after_header: Option<&str>, now_ms: i64) -> Verdict {
    let after = || retry_after(retry_after_header, now_ms);
    match status {
        200..=299 => Verdict::Delivered,
        408 | 425 => Verdict::retry(None, format!("the receiver answered {status}")),
        429 => Verdict::retry(after(), "the receiver is rate limiting (429)"),
        500..=599 => Verdict::retry(after(), format!("the receiver failed ({status})")),
        401 | 403 => Verdict::stop(
            format!("the receiver refused the credentials ({status})"),
            "check the token or key the destination's secret reference names, and that it may \
             write where the destination sends",
        ),
        300..=399 => Verdict::stop(
            format!("the receiver redirected ({status}); redirects are not followed"),
            "set the destination's URL to where the receiver redirects",
        ),
        404 => Verdict::stop(
            "the receiver has no such endpoint (404)",
            "check the destination's URL (its path and, for Datadog, its site)",
        ),
        413 => Verdict::stop(
            "the receiver refused the request as too large (413)",
            "lower the destination's batch size, or raise the receiver's limit",
        ),
        _ => Verdict::stop(
            format!("the receiver refused the request ({status})"),
            "check the destination's format and settings against what the receiver accepts",
        ),
    }
}

/// Exponential backoff with full jitter: a wait drawn from `[0, min(cap, base × 2^attempt)]`
/// (`random` in `[0, 1)`), so retrying senders do not beat in step.
pub fn backoff(attempt: u32, base: Duration, cap: Duration, random: f64) -> Duration {
    let ceiling = base
        .checked_mul(1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX))
        .unwrap_or(cap)
        .min(cap);
    ceiling.mul_f64(random.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_445_412_480_000; // Wed, 21 Oct 2015 07:28:00 GMT

    #[test]
    fn statuses() {
        assert_eq!(from_status(204, None, NOW), Verdict::Delivered);
        assert!(
            matches!(from_status(503, Some("7"), NOW), Verdict::Retry { after: Some(d), .. } if d == Duration::from_secs(7))
        );
        assert!(matches!(
            from_status(500, None, NOW),
            Verdict::Retry { after: None, .. }
        ));
        assert!(matches!(
            from_status(408, Some("5"), NOW),
            Verdict::Retry { after: None, .. }
        ));
        for status in [401, 403, 301, 400, 404, 413, 422] {
            assert!(
                matches!(from_status(status, None, NOW), Verdict::Stop { .. }),
                "{status}"
            );
        }
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        assert_eq!(
            retry_after(Some("120"), NOW),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            retry_after(Some("Wed, 21 Oct 2015 07:28:30 GMT"), NOW),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after(Some("Wed, 21 Oct 2015 07:00:00 GMT"), NOW),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(Some("86400"), NOW), Some(MAX_RETRY_AFTER));
        assert_eq!(retry_after(Some("soon"), NOW), None);
        assert_eq!(retry_after(None, NOW), None);
    }

    #[test]
    fn backoff_grows_to_its_cap_with_jitter() {
        let (base, cap) = (Duration::from_millis(500), Duration::from_secs(60));
        assert_eq!(backoff(0, base, cap, 1.0), base);
        assert_eq!(backoff(3, base, cap, 1.0), Duration::from_secs(4));
        assert_eq!(backoff(30, base, cap, 1.0), cap);
        assert_eq!(backoff(u32::MAX, base, cap, 0.5), cap / 2);
        assert_eq!(backoff(3, base, cap, 0.0), Duration::ZERO);
    }
}
