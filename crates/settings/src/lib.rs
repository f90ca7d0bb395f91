//! The `AUDITLOG_*` settings that more than one binary reads: the `auditlog` CLI takes them as
//! flags or environment variables, the Lambda functions from their environment only (the same
//! names, so `template.yaml` sets what `auditlog serve` documents).
//!
//! # Layout
//!
//! - [`ApiArgs`]: limits, retention and masking for the HTTP API ([`ApiArgs::api_config`]).
//! - [`ExportArgs`]: windows, grace, part size and concurrency of the exporter
//!   ([`ExportArgs::export_config`]), and the minimum retention it accepts.
//! - [`parse_duration`]: `90d`, `5m`, `30s`, … for every duration setting.
//! - [`from_env`]: parse any of these groups from the environment alone (no command line).
//! - [`env_names`]: every environment variable a group reads (the template test uses it).
//! - [`init_lambda_logging`]: the functions' JSON logging, with its level settings.

use std::time::Duration;

#[cfg(feature = "api-config")]
use auditlog_core::cursor::CursorKey;
use auditlog_core::export::ExportConfig;
use auditlog_core::redact::Redactor;
use auditlog_core::stream::address::AddressPolicy;
use auditlog_core::stream::delivery::StreamConfig;
use auditlog_core::validate::Limits;
#[cfg(feature = "api-config")]
use auditlog_http::ApiConfig;
use clap::{Args, CommandFactory, FromArgMatches, Parser};

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{0}")]
    Invalid(String),
}

/// A duration setting that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("`{text}` is not a duration such as 90d, 12h, 5m, 30s: {source}")]
pub struct DurationError {
    text: String,
    source: humantime::DurationError,
}

pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    humantime::parse_duration(text).map_err(|source| DurationError {
        text: text.to_string(),
        source,
    })
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
    /// Who may frame the console: `'none'` (nobody), or space-separated origins such as
    /// `https://admin.vendor.example` (the CSP `frame-ancestors` directive).
    #[arg(
        long,
        env = "AUDITLOG_CONSOLE_FRAME_ANCESTORS",
        default_value = "'none'"
    )]
    pub console_frame_ancestors: String,
    #[command(flatten)]
    pub streams: StreamPolicyArgs,
}

/// Where streams may deliver beyond public `https`: checked when a stream is added and at
/// every connection.
#[derive(Debug, Clone, Args)]
pub struct StreamPolicyArgs {
    /// Let streams deliver over plain `http` (on-prem receivers, tests). Off: `https` only.
    #[arg(long = "stream-allow-http", env = "AUDITLOG_STREAM_ALLOW_HTTP", default_value = "false", action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    pub allow_http: bool,
    /// Let streams deliver to loopback, private and other non-public addresses (on-prem, tests).
    /// The cloud metadata addresses stay refused.
    #[arg(long = "stream-allow-private", env = "AUDITLOG_STREAM_ALLOW_PRIVATE", default_value = "false", action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    pub allow_private: bool,
}

impl StreamPolicyArgs {
    pub fn policy(&self) -> AddressPolicy {
        AddressPolicy {
            allow_http: self.allow_http,
            allow_private: self.allow_private,
        }
    }
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

    /// The `frame-ancestors` sources, each `'none'`, `'self'` or an http(s) origin: nothing that
    /// could end the directive or add another to the Content-Security-Policy.
    pub fn frame_ancestors(&self) -> Result<String, SettingsError> {
        let sources: Vec<&str> = self.console_frame_ancestors.split_whitespace().collect();
        let origin_ok = |s: &str| {
            let rest = s
                .strip_prefix("https://")
                .or_else(|| s.strip_prefix("http://"));
            rest.is_some_and(|host| {
                !host.is_empty()
                    && host
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b".-:*".contains(&b))
            })
        };
        let ok = !sources.is_empty()
            && sources
                .iter()
                .all(|s| *s == "'none'" || *s == "'self'" || origin_ok(s))
            && (!sources.contains(&"'none'") || sources.len() == 1);
        if ok {
            Ok(sources.join(" "))
        } else {
            Err(invalid(
                "AUDITLOG_CONSOLE_FRAME_ANCESTORS must be 'none', or origins such as https://admin.example.com (and 'self'), separated by spaces",
            ))
        }
    }

    /// Everything the router needs, with the store's cursor secret.
    #[cfg(feature = "api-config")]
    pub fn api_config(&self, cursor_secret: [u8; 32]) -> Result<ApiConfig, SettingsError> {
        Ok(ApiConfig {
            limits: self.limits()?,
            redactor: self.redactor(),
            retention_ms: self.retention_ms()?,
            cursor_key: CursorKey::new(cursor_secret),
            max_response_bytes: self.max_response_bytes,
            console_frame_ancestors: self.frame_ancestors()?,
            stream_policy: self.stream_policy(),
        })
    }

    /// Where streams may deliver, beyond public `https`.
    pub fn stream_policy(&self) -> AddressPolicy {
        self.streams.policy()
    }
}

#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// Length of an export window: events received in one window go to the same objects.
    #[arg(long = "export-window", env = "AUDITLOG_EXPORT_WINDOW", default_value = "5m", value_parser = parse_duration)]
    pub window: Duration,
    /// How long after a window ends it is written (writes still in flight, index lag).
    #[arg(long = "export-grace", env = "AUDITLOG_EXPORT_GRACE", default_value = "2m", value_parser = parse_duration)]
    pub grace: Duration,
    /// A new part starts before an object's uncompressed NDJSON passes this many bytes.
    #[arg(long = "export-max-object-bytes", env = "AUDITLOG_EXPORT_MAX_OBJECT_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub max_object_bytes: usize,
    /// Destinations exported at once.
    #[arg(
        long = "export-concurrency",
        env = "AUDITLOG_EXPORT_CONCURRENCY",
        default_value_t = 4
    )]
    pub concurrency: usize,
    /// How long an exporter holds a destination without progress before another may take it.
    #[arg(long = "export-lease", env = "AUDITLOG_EXPORT_LEASE", default_value = "10m", value_parser = parse_duration)]
    pub lease: Duration,
    /// Length of a digest period: each destination gets one signed digest per period, also
    /// when nothing was delivered. A multiple of the window that divides a day.
    #[arg(long = "digest-period", env = "AUDITLOG_DIGEST_PERIOD", default_value = "1h", value_parser = parse_duration)]
    pub digest_period: Duration,
    /// The longest a stream delivery pass runs (each schedule tick starts one); in the export
    /// function, keep it well under the function's timeout.
    #[arg(long = "stream-budget", env = "AUDITLOG_STREAM_BUDGET", default_value = "45s", value_parser = parse_duration)]
    pub stream_budget: Duration,
    /// How long a stream waits for a receiver's answer to one request.
    #[arg(long = "stream-timeout", env = "AUDITLOG_STREAM_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub stream_timeout: Duration,
    /// The first retry wait of a failing stream; it doubles per failure (with jitter) up to
    /// `AUDITLOG_STREAM_RETRY_CAP`.
    #[arg(long = "stream-retry-base", env = "AUDITLOG_STREAM_RETRY_BASE", default_value = "1s", value_parser = parse_duration)]
    pub stream_retry_base: Duration,
    #[arg(long = "stream-retry-cap", env = "AUDITLOG_STREAM_RETRY_CAP", default_value = "5m", value_parser = parse_duration)]
    pub stream_retry_cap: Duration,
    /// How long after its receive time an event waits before a stream sends it: longer than
    /// any ingest request takes to store its events (API Gateway stops a request at 29 s), so
    /// an event still being written is never passed over.
    #[arg(long = "stream-settle", env = "AUDITLOG_STREAM_SETTLE", default_value = "30s", value_parser = parse_duration)]
    pub stream_settle: Duration,
}

/// Every retention must leave this long, beyond a window and its grace, for an exporter
/// outage to be noticed (the backlog alarm) and fixed before unexported events expire.
pub const EXPORT_SAFETY_MARGIN: Duration = Duration::from_secs(24 * 3600);

impl ExportArgs {
    /// The exporter's configuration; `owner` names this process or invocation in leases.
    pub fn export_config(&self, owner: &str) -> Result<ExportConfig, SettingsError> {
        let window_ms = millis(self.window, "AUDITLOG_EXPORT_WINDOW")?;
        if window_ms < 1000 || 86_400_000 % window_ms != 0 {
            return Err(invalid(
                "AUDITLOG_EXPORT_WINDOW must be at least 1s and divide a day evenly (1s, 30s, 1m, 5m, 15m, 1h, ...)",
            ));
        }
        if self.max_object_bytes < 64 * 1024 || self.concurrency == 0 {
            return Err(invalid(
                "AUDITLOG_EXPORT_MAX_OBJECT_BYTES must be at least 64 KiB and AUDITLOG_EXPORT_CONCURRENCY at least 1",
            ));
        }
        let digest_period_ms = millis(self.digest_period, "AUDITLOG_DIGEST_PERIOD")?;
        if digest_period_ms < window_ms
            || digest_period_ms % window_ms != 0
            || 86_400_000 % digest_period_ms != 0
        {
            return Err(invalid(
                "AUDITLOG_DIGEST_PERIOD must be a multiple of AUDITLOG_EXPORT_WINDOW and divide a day evenly (5m, 15m, 1h, 6h, 1d, ...)",
            ));
        }
        Ok(ExportConfig {
            window_ms,
            digest_period_ms,
            grace_ms: millis(self.grace, "AUDITLOG_EXPORT_GRACE")?,
            max_object_bytes: self.max_object_bytes,
            lease_ms: millis(self.lease, "AUDITLOG_EXPORT_LEASE")?.max(1000),
            owner: owner.to_string(),
            concurrency: self.concurrency,
            max_windows_per_pass: 1000,
        })
    }

    /// The stream deliverer's configuration; `owner` names this process or invocation in leases.
    pub fn stream_config(&self, owner: &str) -> Result<StreamConfig, SettingsError> {
        if self.stream_budget.is_zero() || self.stream_timeout.is_zero() {
            return Err(invalid(
                "AUDITLOG_STREAM_BUDGET and AUDITLOG_STREAM_TIMEOUT must be positive",
            ));
        }
        if self.stream_retry_base.is_zero() || self.stream_retry_cap < self.stream_retry_base {
            return Err(invalid(
                "AUDITLOG_STREAM_RETRY_BASE must be positive and at most AUDITLOG_STREAM_RETRY_CAP",
            ));
        }
        Ok(StreamConfig {
            owner: owner.to_string(),
            settle_ms: millis(self.stream_settle, "AUDITLOG_STREAM_SETTLE")?,
            budget: self.stream_budget,
            retry_base: self.stream_retry_base,
            retry_cap: self.stream_retry_cap,
            concurrency: self.concurrency,
        })
    }

    /// The shortest retention this exporter accepts: a window, its grace, and a day.
    pub fn min_retention(&self) -> Duration {
        self.window + self.grace + EXPORT_SAFETY_MARGIN
    }

    /// Refuses a retention that could delete events before they are exported.
    pub fn check_retention(&self, retention: Duration) -> Result<(), SettingsError> {
        if retention < self.min_retention() {
            return Err(SettingsError::Invalid(format!(
                "AUDITLOG_RETENTION={} is shorter than the exporter's safe minimum of {} (window + grace + 1 day): events could expire before they are exported",
                humantime::format_duration(retention),
                humantime::format_duration(self.min_retention())
            )));
        }
        Ok(())
    }
}

/// A duration in whole milliseconds, as the domain counts time.
pub fn millis(duration: Duration, name: &str) -> Result<i64, SettingsError> {
    i64::try_from(duration.as_millis()).map_err(|_| invalid(&format!("{name} is too large")))
}

fn invalid(message: &str) -> SettingsError {
    SettingsError::Invalid(message.to_string())
}

/// Logging for the Lambda functions: JSON lines on stdout (CloudWatch Logs), one object per
/// event, with the invocation's span (which carries the Lambda `requestId`).
/// `AWS_LAMBDA_LOG_LEVEL` (Lambda's advanced logging controls) or `AUDITLOG_LOG` sets the level;
/// the default is `info`.
pub fn init_lambda_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .ok()
        .and_then(|level| EnvFilter::try_new(level.to_lowercase()).ok())
        .or_else(|| EnvFilter::try_from_env("AUDITLOG_LOG").ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_env_filter(filter)
        .with_writer(std::io::stdout)
        .init();
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
        assert!(names.contains(&"AUDITLOG_CONSOLE_FRAME_ANCESTORS".to_string()));
        // The stream address policy is flattened in.
        assert!(names.contains(&"AUDITLOG_STREAM_ALLOW_PRIVATE".to_string()));
        assert_eq!(names.len(), 11);
    }

    fn with_frame_ancestors(value: &str) -> Result<String, SettingsError> {
        let mut args = ApiArgs::augment_args(clap::Command::new("t"))
            .try_get_matches_from(["t", "--console-frame-ancestors", value])
            .map(|m| ApiArgs::from_arg_matches(&m))
            .unwrap()
            .unwrap();
        args.console_frame_ancestors = value.to_string();
        args.frame_ancestors()
    }

    #[test]
    fn frame_ancestors_are_sources_and_nothing_else() {
        assert_eq!(with_frame_ancestors("'none'").unwrap(), "'none'");
        assert_eq!(
            with_frame_ancestors(" https://admin.example.com   'self' ").unwrap(),
            "https://admin.example.com 'self'"
        );
        for bad in [
            "",
            "https://a.example; script-src *",
            "'none' https://a.example",
            "javascript:alert(1)",
            "https://a.example,https://b.example",
            "*",
        ] {
            assert!(with_frame_ancestors(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn export_settings_check_windows_and_the_minimum_retention() {
        let mut args = ExportArgs {
            window: Duration::from_secs(300),
            grace: Duration::from_secs(120),
            max_object_bytes: 1 << 20,
            concurrency: 2,
            lease: Duration::from_secs(600),
            digest_period: Duration::from_secs(3600),
            stream_budget: Duration::from_secs(45),
            stream_timeout: Duration::from_secs(10),
            stream_retry_base: Duration::from_secs(1),
            stream_retry_cap: Duration::from_secs(300),
            stream_settle: Duration::from_secs(30),
        };
        let streams = args.stream_config("me").unwrap();
        assert_eq!(streams.settle_ms, 30_000);
        args.stream_retry_cap = Duration::from_millis(10);
        assert!(args.stream_config("me").is_err(), "a cap under the base");
        args.stream_retry_cap = Duration::from_secs(300);
        let config = args.export_config("me").unwrap();
        assert_eq!((config.window_ms, config.grace_ms), (300_000, 120_000));
        assert_eq!(config.digest_period_ms, 3_600_000);
        for (period, ok) in [
            (300, true),
            (900, true),
            (86_400, true),
            (450, false),
            (60, false),
        ] {
            args.digest_period = Duration::from_secs(period);
            assert_eq!(
                args.export_config("me").is_ok(),
                ok,
                "digest period {period}s with a 5m window"
            );
        }
        args.digest_period = Duration::from_secs(3600);
        assert!(
            args.check_retention(Duration::from_secs(90 * 86_400))
                .is_ok()
        );
        let refused = args
            .check_retention(Duration::from_secs(3600))
            .unwrap_err()
            .to_string();
        assert!(refused.contains("safe minimum of 1day 7m"), "{refused}");
        args.window = Duration::from_secs(7);
        assert!(
            args.export_config("me").is_err(),
            "7s does not divide a day"
        );
        assert_eq!(env_names::<ExportArgs>().len(), 11);
    }

    #[test]
    fn durations_parse_and_say_what_is_wrong() {
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert!(
            parse_duration("soon")
                .unwrap_err()
                .to_string()
                .contains("`soon`")
        );
    }
}
