//! Timestamps as the API speaks them: RFC 3339 strings or epoch milliseconds in, RFC 3339 UTC
//! with millisecond precision out. Everything inside is epoch milliseconds (`i64`), so that
//! ordering and arithmetic never depend on a time zone or a formatting choice.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time, in milliseconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

/// The latest instant we accept anywhere (year 9999), so formatting can never fail.
pub const MAX_MILLIS: i64 = 253_402_300_799_999;

impl Timestamp {
    pub fn millis(self) -> i64 {
        self.0
    }

    /// Formats as `2026-11-21T20:13:20.123Z`.
    pub fn to_rfc3339(self) -> String {
        match DateTime::<Utc>::from_timestamp_millis(self.0) {
            Some(t) => t.to_rfc3339_opts(SecondsFormat::Millis, true),
            // Unreachable for values produced by `parse_timestamp`; keep a readable fallback.
            None => self.0.to_string(),
        }
    }
}

/// Why a timestamp was refused; rendered into the field error message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    #[error("must be an RFC 3339 date-time such as 2026-11-21T20:13:20Z, or epoch milliseconds")]
    Format,
    #[error("must be between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z")]
    Range,
}

/// Parses an RFC 3339 string (any offset; converted to UTC).
pub fn parse_rfc3339(text: &str) -> Result<Timestamp, TimestampError> {
    let parsed = DateTime::parse_from_rfc3339(text).map_err(|_| TimestampError::Format)?;
    in_range(parsed.timestamp_millis())
}

/// Parses epoch milliseconds given as a JSON number.
pub fn from_epoch_millis(ms: i64) -> Result<Timestamp, TimestampError> {
    in_range(ms)
}

/// Parses a query-string time: RFC 3339, or all digits meaning epoch milliseconds.
pub fn parse_query_time(text: &str) -> Result<Timestamp, TimestampError> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let ms: i64 = text.parse().map_err(|_| TimestampError::Range)?;
        return in_range(ms);
    }
    parse_rfc3339(text)
}

fn in_range(ms: i64) -> Result<Timestamp, TimestampError> {
    if (0..=MAX_MILLIS).contains(&ms) {
        Ok(Timestamp(ms))
    } else {
        Err(TimestampError::Range)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        parse_rfc3339(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_with_millis_in_utc() {
        let t = parse_rfc3339("2023-07-29T07:09:17.857+02:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2023-07-29T05:09:17.857Z");
        assert_eq!(parse_rfc3339(&t.to_rfc3339()).unwrap(), t);
    }

    #[test]
    fn query_time_accepts_digits_as_millis() {
        assert_eq!(
            parse_query_time("1690610557857").unwrap(),
            Timestamp(1_690_610_557_857)
        );
        assert_eq!(parse_query_time("yesterday"), Err(TimestampError::Format));
        assert_eq!(
            parse_query_time("99999999999999999999"),
            Err(TimestampError::Range)
        );
    }

    #[test]
    fn out_of_range_is_refused() {
        assert_eq!(from_epoch_millis(-1), Err(TimestampError::Range));
        assert_eq!(
            from_epoch_millis(MAX_MILLIS + 1),
            Err(TimestampError::Range)
        );
    }
}
