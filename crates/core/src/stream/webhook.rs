//! Webhook signatures the Standard Webhooks way (standardwebhooks.com), so a receiver verifies
//! deliveries with any of that specification's libraries: headers `webhook-id`,
//! `webhook-timestamp` (Unix seconds) and `webhook-signature`, the latter a space-separated list
//! of `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, one per secret in use. While a
//! secret is being rotated, the old and the new both sign, so a receiver holding either verifies
//! during the grace period.
//!
//! Secrets are `whsec_` and the base64 of 24 to 64 random bytes. They are held by the service as
//! references (an environment variable or a file), never stored or returned.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

const PREFIX: &str = "whsec_";

/// How far a delivery's timestamp may be from the receiver's clock (the specification's
/// suggestion), in seconds.
pub const TOLERANCE_SECONDS: i64 = 5 * 60;

/// A signing key, decoded. Its `Debug` never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(…)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("a webhook secret is `whsec_` followed by the base64 of 24 to 64 bytes")]
    BadSecret,
    #[error("the webhook-timestamp header is not a number of seconds")]
    BadTimestamp,
    #[error("the delivery's timestamp is more than five minutes from now")]
    Stale,
    #[error("no signature matches")]
    NoMatch,
}

impl WebhookSecret {
    /// `whsec_<base64>`; the prefix may be left out, as receivers' libraries allow.
    pub fn parse(text: &str) -> Result<WebhookSecret, WebhookError> {
        let encoded = text.trim().strip_prefix(PREFIX).unwrap_or(text.trim());
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| WebhookError::BadSecret)?;
        if !(24..=64).contains(&key.len()) {
            return Err(WebhookError::BadSecret);
        }
        Ok(WebhookSecret(key))
    }

    /// A new secret from 32 random bytes the caller draws.
    pub fn generate(random: [u8; 32]) -> String {
        format!("{PREFIX}{}", STANDARD.encode(random))
    }

    fn tag(&self, id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
        // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
        let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0) else {
            return Vec::new();
        };
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().to_vec()
    }
}

/// The `webhook-signature` header for a delivery: one `v1,` entry per secret, in order.
pub fn signature_header(
    secrets: &[&WebhookSecret],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    secrets
        .iter()
        .map(|s| format!("v1,{}", STANDARD.encode(s.tag(id, timestamp, body))))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a receiver does: the timestamp within [`TOLERANCE_SECONDS`] of `now`, and one of the
/// header's `v1` signatures made with `secret` (compared in constant time).
pub fn verify(
    secret: &WebhookSecret,
    id: &str,
    timestamp: &str,
    signatures: &str,
    body: &[u8],
    now: i64,
) -> Result<(), WebhookError> {
    let timestamp: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| WebhookError::BadTimestamp)?;
    if (now - timestamp).abs() > TOLERANCE_SECONDS {
        return Err(WebhookError::Stale);
    }
    let expected = secret.tag(id, timestamp, body);
    let matched = signatures
        .split(' ')
        .filter_map(|entry| entry.strip_prefix("v1,"))
        .filter_map(|b64| STANDARD.decode(b64).ok())
        .any(|given| bool::from(given.ct_eq(&expected)));
    if matched {
        Ok(())
    } else {
        Err(WebhookError::NoMatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const AT: i64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;

    fn secret(text: &str) -> WebhookSecret {
        WebhookSecret::parse(text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_specifications_test_vector() {
        let header = signature_header(&[&secret(SECRET)], ID, AT, BODY);
        assert_eq!(header, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert_eq!(
            verify(&secret(SECRET), ID, "1614265330", &header, BODY, AT + 10),
            Ok(())
        );
    }

    #[test]
    fn during_a_rotation_both_secrets_sign_and_either_verifies() {
        let old = secret(SECRET);
        let new = secret(&WebhookSecret::generate([7; 32]));
        let header = signature_header(&[&new, &old], ID, AT, BODY);
        assert_eq!(header.split(' ').count(), 2);
        assert_eq!(verify(&old, ID, "1614265330", &header, BODY, AT), Ok(()));
        assert_eq!(verify(&new, ID, "1614265330", &header, BODY, AT), Ok(()));
        // After the grace period only the new one signs; the old no longer verifies.
        let after = signature_header(&[&new], ID, AT, BODY);
        assert_eq!(
            verify(&old, ID, "1614265330", &after, BODY, AT),
            Err(WebhookError::NoMatch)
        );
    }

    #[test]
    fn tampering_and_replays_are_refused() {
        let s = secret(SECRET);
        let header = signature_header(&[&s], ID, AT, BODY);
        let cases = [
            (
                ID,
                "1614265330",
                br#"{"test": 2432232315}"#.as_slice(),
                AT,
                WebhookError::NoMatch,
            ),
            ("msg_other", "1614265330", BODY, AT, WebhookError::NoMatch),
            (ID, "1614265331", BODY, AT, WebhookError::NoMatch),
            (
                ID,
                "1614265330",
                BODY,
                AT + TOLERANCE_SECONDS + 1,
                WebhookError::Stale,
            ),
            (ID, "soon", BODY, AT, WebhookError::BadTimestamp),
        ];
        for (id, ts, body, now, expected) in cases {
            assert_eq!(verify(&s, id, ts, &header, body, now), Err(expected));
        }
    }

    #[test]
    fn secrets_are_checked_and_never_shown() {
        assert_eq!(
            WebhookSecret::parse("whsec_c2hvcnQ="),
            Err(WebhookError::BadSecret)
        );
        assert_eq!(
            WebhookSecret::parse("whsec_not base64!"),
            Err(WebhookError::BadSecret)
        );
        assert!(WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_ok());
        let generated = WebhookSecret::generate([1; 32]);
        assert!(generated.starts_with("whsec_"));
        assert_eq!(format!("{:?}", secret(&generated)), "WebhookSecret(…)");
    }
}
