//! Masking of secret-looking values inside free-form JSON (`request.params`, `metadata`).
//!
//! A key is *secret-looking* when its normalized form (ASCII letters and digits only, lowercased,
//! so `newPassword`, `new_password`, `New-Password` and `X-Api-Key` become `newpassword` and
//! `xapikey`) contains one of the patterns. Matching on "contains" over-masks a little
//! (`tokenizer` is masked too); for an audit log a masked harmless value is a far smaller loss
//! than a stored credential, so we accept that trade.
//!
//! The whole value under such a key is replaced, whatever its type: an object under `credentials`
//! is masked as one value, not walked into.

use serde_json::{Map, Value};

use key_matcher::KeyMatcher;

mod key_matcher;

/// What a masked value becomes.
pub const MASK: &str = "[REDACTED]";

/// The built-in patterns, already normalized.
pub const DEFAULT_PATTERNS: [&str; 9] = [
    "password",
    "passwd",
    "secret",
    "token",
    "apikey",
    "authorization",
    "cookie",
    "privatekey",
    "credential",
];

#[derive(Debug, Clone)]
pub struct Redactor {
    patterns: Vec<String>,
    matcher: KeyMatcher,
}

impl Default for Redactor {
    fn default() -> Self {
        Redactor::from_patterns(DEFAULT_PATTERNS.iter().map(|p| p.to_string()).collect())
    }
}

/// Lowercases and drops everything but ASCII letters and digits: `X-Api_Key` → `xapikey`.
pub fn normalize_key(key: &str) -> String {
    key.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

impl Redactor {
    /// The built-in patterns plus `extra` ones (normalized the same way as keys; empty ones
    /// are ignored so a trailing comma in a setting does not mask everything).
    pub fn with_extra_patterns<I, S>(extra: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut patterns: Vec<String> = DEFAULT_PATTERNS.iter().map(|p| p.to_string()).collect();
        for pattern in extra {
            let normalized = normalize_key(pattern.as_ref());
            if !normalized.is_empty() && !patterns.contains(&normalized) {
                patterns.push(normalized);
            }
        }
        Redactor::from_patterns(patterns)
    }

    fn from_patterns(patterns: Vec<String>) -> Self {
        Redactor {
            matcher: KeyMatcher::new(&patterns),
            patterns,
        }
    }

    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    pub fn is_secret_key(&self, key: &str) -> bool {
        self.matcher.matches(key)
    }

    /// Masks every secret-looking value anywhere inside `map`; returns how many were masked.
    pub fn redact_map(&self, map: &mut Map<String, Value>) -> usize {
        let mut masked = 0;
        for (key, value) in map.iter_mut() {
            if self.is_secret_key(key) {
                if !matches!(value, Value::String(s) if s == MASK) {
                    *value = Value::String(MASK.to_string());
                }
                masked += 1;
            } else {
                masked += self.redact_value(value);
            }
        }
        masked
    }

    /// Masks inside any JSON value (objects at any depth, including inside arrays).
    pub fn redact_value(&self, value: &mut Value) -> usize {
        match value {
            Value::Object(map) => self.redact_map(map),
            Value::Array(items) => items.iter_mut().map(|v| self.redact_value(v)).sum(),
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn set_password_keeps_uid_and_masks_the_password() {
        let mut params = json!({"uid": "u-42", "newPassword": "hunter2"});
        let n = Redactor::default().redact_value(&mut params);
        assert_eq!(n, 1);
        assert_eq!(params, json!({"uid": "u-42", "newPassword": "[REDACTED]"}));
    }

    #[test]
    fn every_separator_style_and_case_is_caught() {
        let r = Redactor::default();
        for key in [
            "password",
            "PASSWORD",
            "new_password",
            "newPassword",
            "New-Password",
            "passwd",
            "client_secret",
            "accessToken",
            "X-Api-Key",
            "api_key",
            "apiKey",
            "Authorization",
            "Set-Cookie",
            "private_key",
            "privateKey",
            "aws_credentials",
            "Credential",
        ] {
            assert!(r.is_secret_key(key), "{key} should be secret-looking");
        }
        for key in [
            "uid", "email", "user", "path", "statuses", "author", "key", "pass",
        ] {
            assert!(!r.is_secret_key(key), "{key} should be kept");
        }
    }

    #[test]
    fn masks_at_any_depth_and_inside_arrays() {
        let mut v =
            json!({"a": [{"b": {"token": 1}}, {"c": [{"Cookie": {"x": 1}}]}], "ok": "kept"});
        let n = Redactor::default().redact_value(&mut v);
        assert_eq!(n, 2);
        assert_eq!(
            v,
            json!({"a": [{"b": {"token": "[REDACTED]"}}, {"c": [{"Cookie": "[REDACTED]"}]}], "ok": "kept"})
        );
    }

    #[test]
    fn extra_patterns_are_normalized_and_empty_ones_ignored() {
        let r = Redactor::with_extra_patterns(["SSN", "", " card-number "]);
        assert!(r.is_secret_key("customer_ssn"));
        assert!(r.is_secret_key("cardNumber"));
        assert!(!r.is_secret_key("uid"));
    }

    #[test]
    fn very_long_keys_are_still_checked() {
        let key = format!("{}Password", "x".repeat(200));
        assert!(Redactor::default().is_secret_key(&key));
    }
}
