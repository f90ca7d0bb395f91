//! API keys: format, hashing, scopes and tenant names.
//!
//! A key looks like `alk_<key id: 16 hex>_<secret: 43 base64url chars>`. The key id is not
//! secret: it names the key in `keys list` and `keys revoke` and is how the store finds the
//! record. Only the SHA-256 of the whole key is stored. With 256 bits of randomness a plain
//! SHA-256 is enough (a slow password hash protects low-entropy secrets, which these are not),
//! and it keeps authentication cheap on every request. Hashes are compared in constant time.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::time::Timestamp;

pub const KEY_PREFIX: &str = "alk_";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Send events.
    Write,
    /// Query and fetch events.
    Read,
    /// Manage the tenant's settings (destinations, keys) through the API.
    Admin,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Write => "write",
            Scope::Read => "read",
            Scope::Admin => "admin",
        }
    }
}

/// Why a scope list, a tenant name or a key label was refused; the text names the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyFieldError {
    #[error("unknown scope `{0}`; scopes are write, read, admin")]
    UnknownScope(String),
    #[error("at least one scope is needed: write, read, admin")]
    NoScope,
    #[error(
        "tenant `{0}` must be 1-64 characters of a-z, 0-9, `-` or `_`, starting with a letter or digit"
    )]
    Tenant(String),
    #[error("a label is 1 to {MAX_KEY_LABEL_CHARS} characters, not {0}")]
    LabelLength(usize),
    #[error("a label holds no control characters")]
    LabelControl,
}

/// Parses `write,read`; order and repeats do not matter; the result is sorted and unique.
pub fn parse_scopes(text: &str) -> Result<Vec<Scope>, KeyFieldError> {
    let mut scopes = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let scope = match part {
            "write" => Scope::Write,
            "read" => Scope::Read,
            "admin" => Scope::Admin,
            other => return Err(KeyFieldError::UnknownScope(other.to_string())),
        };
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    if scopes.is_empty() {
        return Err(KeyFieldError::NoScope);
    }
    scopes.sort();
    Ok(scopes)
}

pub fn format_scopes(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// Tenant names appear in storage keys and export paths, so they are kept to a safe alphabet:
/// 1 to 64 of `a-z 0-9 - _`, starting with a letter or digit.
pub fn validate_tenant(tenant: &str) -> Result<(), KeyFieldError> {
    let ok = (1..=64).contains(&tenant.len())
        && tenant
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && tenant
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(KeyFieldError::Tenant(tenant.to_string()))
    }
}

/// The longest key label.
pub const MAX_KEY_LABEL_CHARS: usize = 128;

/// A key's label (a note to tell keys apart): 1 to 128 characters, no control characters.
pub fn check_label(label: &str) -> Result<(), KeyFieldError> {
    let count = label.chars().count();
    if count == 0 || count > MAX_KEY_LABEL_CHARS {
        return Err(KeyFieldError::LabelLength(count));
    }
    if label.chars().any(char::is_control) {
        return Err(KeyFieldError::LabelControl);
    }
    Ok(())
}

/// A newly made key: the full text is shown to the operator once and never stored.
#[derive(Clone)]
pub struct IssuedKey {
    pub key_id: String,
    pub key: String,
    pub hash: String,
}

impl std::fmt::Debug for IssuedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// Builds a key from caller-supplied randomness (this crate has no random source of its own).
pub fn issue_key(id_bytes: [u8; 8], secret_bytes: [u8; 32]) -> IssuedKey {
    let key_id = hex::encode(id_bytes);
    let key = bearer_token(KEY_PREFIX, &key_id, secret_bytes);
    let hash = hash_key(&key);
    IssuedKey { key_id, key, hash }
}

/// Hex SHA-256 of the whole key text.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// `{prefix}{id}_{43 base64url characters of the secret}`: the shape of every secret token we
/// issue (API keys, console links and session cookies, each with its own prefix).
pub fn bearer_token(prefix: &str, id: &str, secret: [u8; 32]) -> String {
    format!("{prefix}{id}_{}", URL_SAFE_NO_PAD.encode(secret))
}

/// The key id of a presented key, if it is shaped like one of ours.
pub fn key_id_of(presented: &str) -> Option<&str> {
    token_id_of(KEY_PREFIX, presented)
}

/// What an `Authorization` header says before any store is asked: nothing (no header), a key
/// of the right shape with its id, or something that cannot be a key. The API and the edge
/// both refuse on this alone, with the same answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presented<'a> {
    Missing,
    Malformed,
    Key { key: &'a str, key_id: &'a str },
}

/// Reads an `Authorization` header value: `Bearer <key>` (scheme in any case).
pub fn presented_key(header: Option<&[u8]>) -> Presented<'_> {
    let Some(raw) = header else {
        return Presented::Missing;
    };
    let Ok(text) = std::str::from_utf8(raw) else {
        return Presented::Malformed;
    };
    let Some((scheme, key)) = text.trim().split_once(' ') else {
        return Presented::Malformed;
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Presented::Malformed;
    }
    let key = key.trim();
    match key_id_of(key) {
        Some(key_id) => Presented::Key { key, key_id },
        None => Presented::Malformed,
    }
}

/// The answer's message for [`Presented::Missing`] (`401 missing_credentials`).
pub const MISSING_CREDENTIALS: &str = "send an API key as `Authorization: Bearer <key>`";
/// The answer's message for any key that is not valid (`401 invalid_credentials`).
pub const INVALID_CREDENTIALS: &str = "the API key is not valid";

/// The id (16 hex digits) of a presented [`bearer_token`] with `prefix`, if it has that shape.
pub fn token_id_of<'a>(prefix: &str, presented: &'a str) -> Option<&'a str> {
    let rest = presented.strip_prefix(prefix)?;
    let (id, secret) = rest.split_once('_')?;
    let id_ok = id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit());
    let secret_ok = secret.len() == 43
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (id_ok && secret_ok).then_some(id)
}

/// Constant-time check of a presented key against a stored hash.
pub fn key_matches(presented: &str, stored_hash: &str) -> bool {
    let computed = hash_key(presented);
    computed.as_bytes().ct_eq(stored_hash.as_bytes()).into()
}

/// What the store keeps for a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub key_id: String,
    pub tenant: String,
    pub scopes: Vec<Scope>,
    /// Hex SHA-256 of the key; never the key itself.
    pub hash: String,
    pub label: Option<String>,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

impl KeyRecord {
    pub fn allows(&self, scope: Scope) -> bool {
        self.revoked_at.is_none() && self.scopes.contains(&scope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_bounded_and_printable() {
        assert!(check_label("siem export").is_ok());
        assert!(check_label(&"é".repeat(128)).is_ok());
        assert!(check_label("").is_err());
        assert!(check_label(&"a".repeat(129)).is_err());
        assert!(check_label("line\nbreak").is_err());
    }

    #[test]
    fn issued_keys_parse_and_verify() {
        let issued = issue_key([7; 8], [9; 32]);
        assert_eq!(issued.key_id, "0707070707070707");
        assert_eq!(key_id_of(&issued.key), Some("0707070707070707"));
        assert!(key_matches(&issued.key, &issued.hash));
        assert!(!issued.hash.contains(&issued.key));
        let mut other = issued.key.clone();
        other.pop();
        other.push('x');
        assert!(!key_matches(&other, &issued.hash));
    }

    #[test]
    fn malformed_keys_have_no_id() {
        for bad in [
            "",
            "alk_",
            "Bearer x",
            "alk_zz07070707070707_aaaa",
            "alk_0707070707070707",
        ] {
            assert_eq!(key_id_of(bad), None, "{bad}");
        }
    }

    #[test]
    fn debug_never_shows_the_key() {
        let issued = issue_key([1; 8], [2; 32]);
        assert!(!format!("{issued:?}").contains(&issued.key));
    }

    #[test]
    fn scopes_parse_sorted_and_unique() {
        assert_eq!(
            parse_scopes("read, write,read").unwrap(),
            vec![Scope::Write, Scope::Read]
        );
        assert!(parse_scopes("").is_err());
        assert!(parse_scopes("root").is_err());
    }

    #[test]
    fn tenants_are_kept_to_a_safe_alphabet() {
        for ok in ["acme", "a", "tenant-42", "t_1"] {
            assert!(validate_tenant(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Acme", "-x", "a/b", "a b", &"x".repeat(65)] {
            assert!(validate_tenant(bad).is_err(), "{bad}");
        }
    }
}
