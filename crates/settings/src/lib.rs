//! The `AUDITLOG_*` settings that more than one binary reads: the `auditlog` CLI takes them as
//! flags or environment variables, the Lambda functions from their environment only (the same
//! names, so `template.yaml` sets what `auditlog serve` documents).
//!
//! # Layout
//!
//! - [`ApiArgs`]: limits, retention and masking for the HTTP API ([`ApiArgs::api_config`]).
//! - [`parse_duration`]: `90d`, `5m`, `30s`, … for every duration setting.
//! - [`from_env`]: parse any of these groups from the environment alone (no command line).
//! - [`env_names`]: every environment variable a group reads (the template test uses it).

use std::time::Duration;

use auditlog_core::cursor::CursorKey;
use auditlog_core::redact::Redactor;
use auditlog_core::validate::Limits;
use auditlog_http::ApiConfig;
use clap::{Args, CommandFactory, FromArgMatches, Parser};

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{0}")]
    Invalid(String),
}

pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|e| format!("`{text}` is not a duration such as 90d, 12h, 5m, 30s: {e}"))
}

#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    /// How long events are kept after they are received.
    #[arg(long, env = "AUDITLOG_RETENTION", default_value = "90d", value_parser = parse_duration)]
    pub retention: Duration,
    /// Largest stored event, in bytes (compact JSON).
    #[arg(long, env = "AUDITLOG_MAX_EVENT_BYTES", default_value_t = 32 * 1024)]
    pub max_event_bytes: usize,
    /// Most events in one request.
    #[arg(long, env = "AUDITLOG_MAX_BATCH_EVENTS", default_value_t = 500)]
    pub max_batch_events: usize,
    /// Largest request body, in bytes.
    #[arg(long, env = "AUDITLOG_MAX_REQUEST_BYTES", default_value_t = 1024 * 1024)]
    pub max_request_bytes: usize,
    /// Largest `metadata` object, and `request.params` object, in bytes (compact JSON).
    #[arg(long, env = "AUDITLOG_MAX_FREE_JSON_BYTES", default_value_t = 16 * 1024)]
    pub max_free_json_bytes: usize,
    /// How far in the future `occurred_at` may be (client clock skew).
    #[arg(long, env = "AUDITLOG_MAX_CLOCK_SKEW", default_value = "5m", value_parser = parse_duration)]
    pub max_clock_skew: Duration,
    /// Extra secret-looking key patterns to mask, comma-separated (added to the built-in list).
    #[arg(
        long,
        env = "AUDITLOG_REDACT_KEYS",
        default_value = "",
        value_delimiter = ','
    )]
    pub redact_keys: Vec<String>,
    /// Largest answer to a query, in bytes: a page ends early, with a cursor, rather than exceed
    /// it. The default stays under Lambda's 6 MB response limit.
    #[arg(long, env = "AUDITLOG_MAX_RESPONSE_BYTES", default_value_t = DEFAULT_MAX_RESPONSE_BYTES)]
    pub max_response_bytes: usize,
}

pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 5 * 1024 * 1024;

impl ApiArgs {
    pub fn limits(&self) -> Result<Limits, SettingsError> {
        if self.max_event_bytes == 0 || self.max_batch_events == 0 || self.max_request_bytes == 0 {
            return Err(invalid("size and count limits must be positive"));
        }
        if self.max_response_bytes < self.max_event_bytes + 1024 {
            return Err(invalid(
                "AUDITLOG_MAX_RESPONSE_BYTES must exceed AUDITLOG_MAX_EVENT_BYTES by at least 1 KB",
            ));
        }
        if self.max_event_bytes > self.max_request_bytes {
            return Err(invalid(
                "AUDITLOG_MAX_EVENT_BYTES cannot exceed AUDITLOG_MAX_REQUEST_BYTES",
            ));
        }
        Ok(Limits {
            max_event_bytes: self.max_event_bytes,
            max_events_per_request: self.max_batch_events,
            max_request_bytes: self.max_request_bytes,
            max_free_json_bytes: self.max_free_json_bytes,
            max_future_skew_ms: millis(self.max_clock_skew, "AUDITLOG_MAX_CLOCK_SKEW")?,
            ..Limits::default()
        })
    }

    pub fn redactor(&self) -> Redactor {
        Redactor::with_extra_patterns(&self.redact_keys)
    }

    pub fn retention_ms(&self) -> Result<i64, SettingsError> {
        let ms = millis(self.retention, "AUDITLOG_RETENTION")?;
        if ms < 1000 {
            return Err(invalid("AUDITLOG_RETENTION must be at least 1s"));
        }
        Ok(ms)
    }

    /// Everything the router needs, with the store's cursor secret.
    pub fn api_config(&self, cursor_secret: [u8; 32]) -> Result<ApiConfig, SettingsError> {
        Ok(ApiConfig {
            limits: self.limits()?,
            redactor: self.redactor(),
            retention_ms: self.retention_ms()?,
            cursor_key: CursorKey::new(cursor_secret),
            max_response_bytes: self.max_response_bytes,
        })
    }
}

/// A duration in whole milliseconds, as the domain counts time.
pub fn millis(duration: Duration, name: &str) -> Result<i64, SettingsError> {
    i64::try_from(duration.as_millis()).map_err(|_| invalid(&format!("{name} is too large")))
}

fn invalid(message: &str) -> SettingsError {
    SettingsError::Invalid(message.to_string())
}

/// One group of settings as a stand-alone parser (no positional arguments, no flags given).
#[derive(Debug, Parser)]
#[command(name = "auditlog-function")]
struct EnvOnly<T: Args> {
    #[command(flatten)]
    inner: T,
}

/// Reads a settings group from the environment alone, as a Lambda function does: the same
/// names, defaults and checks as the CLI flags.
pub fn from_env<T: Args>() -> Result<T, SettingsError> {
    let matches = EnvOnly::<T>::command()
        .try_get_matches_from(["auditlog-function"])
        .map_err(|e| SettingsError::Invalid(e.to_string()))?;
    EnvOnly::<T>::from_arg_matches(&matches)
        .map(|parsed| parsed.inner)
        .map_err(|e| SettingsError::Invalid(e.to_string()))
}

/// Every environment variable a settings group reads.
pub fn env_names<T: Args>() -> Vec<String> {
    T::augment_args(clap::Command::new("settings"))
        .get_arguments()
        .filter_map(|arg| arg.get_env())
        .map(|name| name.to_string_lossy().into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn the_api_settings_name_their_environment() {
        let names = env_names::<ApiArgs>();
        assert!(names.contains(&"AUDITLOG_RETENTION".to_string()));
        assert!(names.contains(&"AUDITLOG_REDACT_KEYS".to_string()));
        assert_eq!(names.len(), 8);
    }

    #[test]
    fn durations_parse_and_say_what_is_wrong() {
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert!(parse_duration("soon").unwrap_err().contains("`soon`"));
    }
}
