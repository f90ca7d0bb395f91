//! The component's settings, from environment variables: where the origin is, how long to wait
//! for it, and the same limits and masking settings the regional API reads, from the same
//! variables. Pure apart from the lookup the caller passes, so it is tested natively.

use std::time::Duration;

use auditlog_core::redact::Redactor;
use auditlog_core::validate::Limits;

/// How long the origin has to answer, unless `AUDITLOG_ORIGIN_TIMEOUT` says otherwise. Below
/// API Gateway's 29 s integration limit, so the edge answers before a gateway in front of it.
pub const DEFAULT_ORIGIN_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest origin answer read: a 500-item answer is about 100 KiB.
pub const MAX_ORIGIN_ANSWER_BYTES: usize = 8 * 1024 * 1024;

/// A setting the edge cannot run with; the text names the variable and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("AUDITLOG_ORIGIN_URL is not set: the edge needs the regional API's address")]
    NoOrigin,
    #[error("AUDITLOG_ORIGIN_URL=`{url}` {why}")]
    Origin { url: String, why: &'static str },
    #[error("{name}=`{text}` is not a duration such as {example}{detail}")]
    Duration {
        name: &'static str,
        text: String,
        example: &'static str,
        /// The parser's own words, after a colon, when it gave any.
        detail: String,
    },
    #[error("{name}=`{text}` is not a positive whole number")]
    Count { name: &'static str, text: String },
    #[error("AUDITLOG_MAX_CLOCK_SKEW=`{0}` is too large")]
    SkewTooLarge(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub https: bool,
    /// `host` or `host:port`.
    pub authority: String,
    /// The path before `/v1/events`: empty, or `/stage` for an API behind a path prefix.
    pub base_path: String,
}

impl Origin {
    /// `http(s)://host[:port][/base]`, nothing else: no user info, query or fragment.
    pub fn parse(url: &str) -> Result<Origin, ConfigError> {
        let bad = |why: &'static str| ConfigError::Origin {
            url: url.to_string(),
            why,
        };
        let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(bad(
                "must start with https:// (or http:// for a local origin)",
            ));
        };
        let (authority, path) = match rest.find('/') {
            Some(cut) => rest.split_at(cut),
            None => (rest, ""),
        };
        if authority.is_empty() {
            return Err(bad("has no host"));
        }
        if url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '?' | '#'))
        {
            return Err(bad("may hold no spaces, query or fragment"));
        }
        if authority.contains('@') {
            return Err(bad("may hold no user name or password"));
        }
        Ok(Origin {
            https,
            authority: authority.to_string(),
            base_path: path.trim_end_matches('/').to_string(),
        })
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub origin: Origin,
    pub timeout: Duration,
    pub limits: Limits,
    pub redactor: Redactor,
}

impl Config {
    /// Reads every setting through `lookup` (the environment, in the component). An error names
    /// the variable and says what is wrong with it.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let origin = lookup("AUDITLOG_ORIGIN_URL").ok_or(ConfigError::NoOrigin)?;
        let timeout = match lookup("AUDITLOG_ORIGIN_TIMEOUT") {
            None => DEFAULT_ORIGIN_TIMEOUT,
            Some(text) => humantime::parse_duration(&text)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| ConfigError::Duration {
                    name: "AUDITLOG_ORIGIN_TIMEOUT",
                    text: text.clone(),
                    example: "10s",
                    detail: String::new(),
                })?,
        };
        Ok(Config {
            origin: Origin::parse(&origin)?,
            timeout,
            limits: limits(&lookup)?,
            redactor: Redactor::with_extra_patterns(
                lookup("AUDITLOG_REDACT_KEYS")
                    .unwrap_or_default()
                    .split(','),
            ),
        })
    }
}

/// The same limits the regional API runs with, from the same variables.
fn limits(lookup: &impl Fn(&str) -> Option<String>) -> Result<Limits, ConfigError> {
    let mut limits = Limits::default();
    for (name, slot) in [
        ("AUDITLOG_MAX_EVENT_BYTES", &mut limits.max_event_bytes),
        (
            "AUDITLOG_MAX_BATCH_EVENTS",
            &mut limits.max_events_per_request,
        ),
        ("AUDITLOG_MAX_REQUEST_BYTES", &mut limits.max_request_bytes),
        (
            "AUDITLOG_MAX_FREE_JSON_BYTES",
            &mut limits.max_free_json_bytes,
        ),
    ] {
        if let Some(text) = lookup(name) {
            *slot = text
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| ConfigError::Count {
                    name,
                    text: text.clone(),
                })?;
        }
    }
    if let Some(text) = lookup("AUDITLOG_MAX_CLOCK_SKEW") {
        let skew = humantime::parse_duration(&text).map_err(|e| ConfigError::Duration {
            name: "AUDITLOG_MAX_CLOCK_SKEW",
            text: text.clone(),
            example: "5m",
            detail: format!(": {e}"),
        })?;
        limits.max_future_skew_ms =
            i64::try_from(skew.as_millis()).map_err(|_| ConfigError::SkewTooLarge(text.clone()))?;
    }
    Ok(limits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, String> {
        config_of(vars).map_err(|e| e.to_string())
    }

    fn config_of(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn origins_are_plain_http_urls() {
        let origin = Origin::parse("https://api.example.com/prod/").map_err(|e| e.to_string());
        assert_eq!(
            origin,
            Ok(Origin {
                https: true,
                authority: "api.example.com".into(),
                base_path: "/prod".into(),
            })
        );
        let local = Origin::parse("http://127.0.0.1:8080").map_err(|e| e.to_string());
        assert_eq!(
            local.map(|o| (o.https, o.authority, o.base_path)),
            Ok((false, "127.0.0.1:8080".into(), String::new()))
        );
        for (url, why) in [
            ("ftp://x", "must start with https://"),
            ("https://", "has no host"),
            ("https:///v1", "has no host"),
            ("https://user:pw@host", "no user name or password"),
            ("https://host/?a=1", "no spaces, query or fragment"),
            ("https://host/a b", "no spaces, query or fragment"),
        ] {
            let err = Origin::parse(url)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(why), "{url}: {err}");
        }
    }

    #[test]
    fn every_setting_is_named_when_wrong() {
        let base = ("AUDITLOG_ORIGIN_URL", "https://api.example.com");
        assert!(
            config(&[])
                .err()
                .unwrap_or_default()
                .starts_with("AUDITLOG_ORIGIN_URL is not set")
        );
        for (name, value) in [
            ("AUDITLOG_ORIGIN_TIMEOUT", "soon"),
            ("AUDITLOG_ORIGIN_TIMEOUT", "0s"),
            ("AUDITLOG_MAX_BATCH_EVENTS", "0"),
            ("AUDITLOG_MAX_EVENT_BYTES", "-1"),
            ("AUDITLOG_MAX_CLOCK_SKEW", "later"),
        ] {
            let err = config(&[base, (name, value)]).err().unwrap_or_default();
            assert!(err.starts_with(&format!("{name}=`{value}`")), "{err}");
        }
        let fine = config(&[
            base,
            ("AUDITLOG_ORIGIN_TIMEOUT", "2s"),
            ("AUDITLOG_MAX_CLOCK_SKEW", "15m"),
            ("AUDITLOG_MAX_EVENT_BYTES", "100"),
        ]);
        let fine = fine.as_ref().map(|c| {
            (
                c.timeout,
                c.limits.max_future_skew_ms,
                c.limits.max_event_bytes,
            )
        });
        assert_eq!(fine, Ok((Duration::from_secs(2), 900_000, 100)));
    }
}
