//! Timestamps as the API speaks them: RFC 3339 strings or epoch milliseconds in, RFC 3339 UTC
//! with millisecond precision out. Everything inside is epoch milliseconds (`i64`), so that
//! ordering and arithmetic never depend on a time zone or a formatting choice.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time, in milliseconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema),
    schema(value_type = String, format = DateTime, example = "2026-12-01T14:00:00.000Z")
)]
pub struct Timestamp(pub i64);

/// The latest instant we accept anywhere (year 9999), so formatting can never fail.
pub const MAX_MILLIS: i64 = 253_402_300_799_999;

impl Timestamp {
    pub fn millis(self) -> i64 {
        self.0
    }

    /// Formats as `2026-11-21T20:13:20.123Z`.
    pub fn to_rfc3339(self) -> String {
        let mut buf = [0u8; 24];
        match self.format_into(&mut buf) {
            Some(text) => text.to_string(),
            None => match DateTime::<Utc>::from_timestamp_millis(self.0) {
                Some(t) => t.to_rfc3339_opts(SecondsFormat::Millis, true),
                None => self.0.to_string(),
            },
        }
    }

    /// The same text written into a stack buffer; `None` outside years 0000-9999. Every stored
    /// event formats two timestamps, so this avoids a general-purpose formatter on the hot path.
    fn format_into(self, buf: &mut [u8; 24]) -> Option<&str> {
        self.format_ascii(buf)?;
        std::str::from_utf8(buf).ok()
    }

    /// The ASCII bytes of the text; `None` outside years 0000-9999.
    fn format_ascii(self, buf: &mut [u8; 24]) -> Option<()> {
        if !(0..=MAX_MILLIS).contains(&self.0) {
            return None;
        }
        let ms = self.0;
        let days = ms.div_euclid(86_400_000);
        let in_day = ms.rem_euclid(86_400_000);
        let (year, month, day) = civil_from_days(days);
        let (hour, minute) = (in_day / 3_600_000, in_day / 60_000 % 60);
        let (second, milli) = (in_day / 1000 % 60, in_day % 1000);
        let mut put = |at: usize, value: i64, width: usize| {
            let mut v = value;
            for i in (0..width).rev() {
                buf[at + i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(0, year, 4);
        put(5, month, 2);
        put(8, day, 2);
        put(11, hour, 2);
        put(14, minute, 2);
        put(17, second, 2);
        put(20, milli, 3);
        for (at, sep) in [
            (4, b'-'),
            (7, b'-'),
            (10, b'T'),
            (13, b':'),
            (16, b':'),
            (19, b'.'),
            (23, b'Z'),
        ] {
            buf[at] = sep;
        }
        Some(())
    }
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar
/// (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
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

impl Timestamp {
    /// Gives `f` the RFC 3339 text, from the stack buffer when it fits (every stored event has
    /// two timestamps), else from [`Timestamp::to_rfc3339`].
    fn with_text<R>(self, f: impl FnOnce(&str) -> R) -> R {
        let mut buf = [0u8; 24];
        match self.format_into(&mut buf) {
            Some(text) => f(text),
            None => f(&self.to_rfc3339()),
        }
    }

    /// [`Timestamp::write_json`] through a one-entry cache per thread: every event of a request
    /// has the same `received_at`, so a batch formats it once.
    pub(crate) fn write_json_repeated(self, out: &mut Vec<u8>) {
        thread_local! {
            static LAST: std::cell::Cell<Option<(i64, [u8; 24])>> = const { std::cell::Cell::new(None) };
        }
        match LAST.get() {
            Some((ms, text)) if ms == self.0 => push_quoted(out, &text),
            _ => {
                let mut buf = [0u8; 24];
                if self.format_ascii(&mut buf).is_some() {
                    LAST.set(Some((self.0, buf)));
                    push_quoted(out, &buf);
                } else {
                    self.write_json(out);
                }
            }
        }
    }

    /// Appends the JSON string of this timestamp (what `Serialize` writes), quotes included.
    pub(crate) fn write_json(self, out: &mut Vec<u8>) {
        let mut buf = [0u8; 24];
        if self.format_ascii(&mut buf).is_some() {
            push_quoted(out, &buf);
        } else {
            self.with_text(|text| crate::json_write::string(out, text));
        }
    }
}

/// Digits and separators between quotes: nothing to check or escape, so the bytes go in as they
/// are.
fn push_quoted(out: &mut Vec<u8>, text: &[u8; 24]) {
    out.push(b'"');
    out.extend_from_slice(text);
    out.push(b'"');
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.with_text(|text| serializer.serialize_str(text))
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
    fn the_repeated_writer_writes_what_the_writer_writes() {
        for ms in [
            0,
            1_795_305_600_000,
            1_795_305_600_000,
            7,
            MAX_MILLIS,
            MAX_MILLIS + 1,
            -5,
            7,
        ] {
            let (mut once, mut repeated) = (Vec::new(), Vec::new());
            Timestamp(ms).write_json(&mut once);
            Timestamp(ms).write_json_repeated(&mut repeated);
            assert_eq!(once, repeated, "{ms}");
            assert_eq!(
                String::from_utf8(once).unwrap(),
                serde_json::to_string(&Timestamp(ms)).unwrap()
            );
        }
    }

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

    proptest::proptest! {
        #[test]
        fn fast_formatting_matches_chrono(ms in 0i64..=MAX_MILLIS) {
            let expected = DateTime::<Utc>::from_timestamp_millis(ms)
                .unwrap()
                .to_rfc3339_opts(SecondsFormat::Millis, true);
            proptest::prop_assert_eq!(Timestamp(ms).to_rfc3339(), expected);
        }
    }

    #[test]
    fn formats_calendar_edges() {
        for text in [
            "1970-01-01T00:00:00.000Z",
            "2000-02-29T23:59:59.999Z",
            "2100-03-01T00:00:00.000Z",
            "9999-12-31T23:59:59.999Z",
        ] {
            assert_eq!(parse_rfc3339(text).unwrap().to_rfc3339(), text);
        }
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
