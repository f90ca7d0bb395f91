//! Digest signing keys: Ed25519 key pairs, which one signs a given period, and the public form
//! the service publishes (`GET /v1/integrity/keys`, `auditlog signing-keys public`) for
//! verifiers. No randomness here: a new key's seed comes from the caller.
//!
//! A key is named by its public key (`ed25519-` and the first 16 hex digits of the public key's
//! SHA-256), so a name can never point at two different keys. Rotation adds a key; old keys
//! stay, because the digests they signed stay in customers' buckets and must keep verifying.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use thiserror::Error;

use crate::Timestamp;

pub const ALGORITHM: &str = "Ed25519";

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SigningError {
    #[error("signing key {0} is damaged in the store (its seed does not decode)")]
    DamagedKey(String),
    #[error("public key {key_id}: {reason}")]
    BadPublicKey { key_id: String, reason: String },
}

/// A signing key as the store holds it: the private seed included.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKeyRecord {
    pub key_id: String,
    /// Standard base64 of the 32-byte Ed25519 public key.
    pub public_key: String,
    /// Standard base64 of the 32-byte private seed. Never logged, never returned by an API.
    pub seed: String,
    /// Digests of periods that end at or after this instant are signed with this key, until
    /// a newer key's `activated_at`.
    pub activated_at: Timestamp,
}

impl std::fmt::Debug for SigningKeyRecord {
    // The seed stays out of every log line and panic message.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("key_id", &self.key_id)
            .field("public_key", &self.public_key)
            .field("seed", &"<redacted>")
            .field("activated_at", &self.activated_at)
            .finish()
    }
}

/// The name of a public key.
pub fn key_id_of(public_key: &[u8; 32]) -> String {
    let fingerprint = hex::encode(Sha256::digest(public_key));
    format!("ed25519-{}", &fingerprint[..16])
}

impl SigningKeyRecord {
    /// A key pair from 32 random bytes.
    pub fn from_seed(seed: [u8; 32], activated_at: Timestamp) -> Self {
        let signing = SigningKey::from_bytes(&seed);
        let public = signing.verifying_key().to_bytes();
        SigningKeyRecord {
            key_id: key_id_of(&public),
            public_key: STANDARD.encode(public),
            seed: STANDARD.encode(seed),
            activated_at,
        }
    }

    /// The signature of `message`, in standard base64.
    pub fn sign(&self, message: &[u8]) -> Result<String, SigningError> {
        let seed: [u8; 32] = STANDARD
            .decode(&self.seed)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| SigningError::DamagedKey(self.key_id.clone()))?;
        let signature = SigningKey::from_bytes(&seed).sign(message);
        Ok(STANDARD.encode(signature.to_bytes()))
    }

    pub fn public(&self) -> PublicKey {
        PublicKey {
            key_id: self.key_id.clone(),
            algorithm: ALGORITHM.to_string(),
            public_key: self.public_key.clone(),
            activated_at: self.activated_at,
        }
    }
}

/// The key that signs the digest of a period ending at `period_end`: the newest key activated
/// by then, or, for periods that ended before any key existed (a backlog exported after the
/// first key was made), the oldest key. The choice depends only on the period and the keys, so
/// a retry after a crash signs with the same key and writes the same bytes.
pub fn key_in_force(keys: &[SigningKeyRecord], period_end: Timestamp) -> Option<&SigningKeyRecord> {
    let by_activation = |k: &&SigningKeyRecord| (k.activated_at, k.key_id.clone());
    keys.iter()
        .filter(|k| k.activated_at <= period_end)
        .max_by_key(by_activation)
        .or_else(|| keys.iter().min_by_key(by_activation))
}

/// One published public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublicKey {
    pub key_id: String,
    pub algorithm: String,
    /// Standard base64 of the 32-byte Ed25519 public key.
    pub public_key: String,
    pub activated_at: Timestamp,
}

/// What the service publishes, and what `auditlog verify --public-keys` reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublicKeys {
    pub keys: Vec<PublicKey>,
}

/// Public keys by id, each checked: what the verifier checks signatures with.
pub type Keyring = std::collections::BTreeMap<String, VerifyingKey>;

impl PublicKeys {
    pub fn keyring(&self) -> Result<Keyring, SigningError> {
        self.keys
            .iter()
            .map(|k| Ok((k.key_id.clone(), k.verifying_key()?)))
            .collect()
    }

    pub fn of(records: &[SigningKeyRecord]) -> Self {
        let mut keys: Vec<PublicKey> = records.iter().map(SigningKeyRecord::public).collect();
        keys.sort_by(|a, b| (a.activated_at, &a.key_id).cmp(&(b.activated_at, &b.key_id)));
        PublicKeys { keys }
    }
}

impl PublicKey {
    /// The key, checked: Ed25519, 32 bytes, a valid curve point, and named by its fingerprint
    /// (so a key file cannot pass one key off under another's name).
    pub fn verifying_key(&self) -> Result<VerifyingKey, SigningError> {
        let bad = |reason: &str| SigningError::BadPublicKey {
            key_id: self.key_id.clone(),
            reason: reason.to_string(),
        };
        if self.algorithm != ALGORITHM {
            return Err(bad("not an Ed25519 key"));
        }
        let bytes: [u8; 32] = STANDARD
            .decode(&self.public_key)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| bad("public_key is not 32 bytes of base64"))?;
        if key_id_of(&bytes) != self.key_id {
            return Err(bad("the key id is not this key's fingerprint"));
        }
        VerifyingKey::from_bytes(&bytes).map_err(|_| bad("not a valid Ed25519 public key"))
    }
}

/// Whether `signature` (standard base64) is `key`'s signature of `message`. Strict
/// verification: no malleable or small-order forms.
pub fn signature_holds(key: &VerifyingKey, message: &[u8], signature: &str) -> bool {
    let Some(bytes) = STANDARD
        .decode(signature)
        .ok()
        .and_then(|b| <[u8; 64]>::try_from(b).ok())
    else {
        return false;
    };
    key.verify_strict(message, &Signature::from_bytes(&bytes))
        .is_ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_signature_verifies_under_its_public_key_only() {
        let a = SigningKeyRecord::from_seed([1; 32], Timestamp(0));
        let b = SigningKeyRecord::from_seed([2; 32], Timestamp(0));
        let signature = a.sign(b"digest").unwrap();
        let a_public = a.public().verifying_key().unwrap();
        let b_public = b.public().verifying_key().unwrap();
        assert!(signature_holds(&a_public, b"digest", &signature));
        assert!(!signature_holds(&a_public, b"digesT", &signature));
        assert!(!signature_holds(&b_public, b"digest", &signature));
        assert!(!signature_holds(&a_public, b"digest", "not base64"));
        assert!(a.key_id.starts_with("ed25519-") && a.key_id.len() == 24);
        assert_ne!(a.key_id, b.key_id);
    }

    #[test]
    fn a_public_key_must_carry_its_own_name() {
        let a = SigningKeyRecord::from_seed([1; 32], Timestamp(0)).public();
        let b = SigningKeyRecord::from_seed([2; 32], Timestamp(0)).public();
        let swapped = PublicKey {
            public_key: b.public_key,
            ..a.clone()
        };
        assert!(matches!(
            swapped.verifying_key(),
            Err(SigningError::BadPublicKey { .. })
        ));
        let other_algorithm = PublicKey {
            algorithm: "RSA".into(),
            ..a
        };
        assert!(other_algorithm.verifying_key().is_err());
    }

    #[test]
    fn the_key_in_force_is_the_newest_activated_by_the_period_end() {
        let first = SigningKeyRecord::from_seed([1; 32], Timestamp(100));
        let second = SigningKeyRecord::from_seed([2; 32], Timestamp(200));
        let keys = vec![second.clone(), first.clone()];
        // Before any key: the oldest.
        assert_eq!(key_in_force(&keys, Timestamp(50)), Some(&first));
        assert_eq!(key_in_force(&keys, Timestamp(199)), Some(&first));
        assert_eq!(key_in_force(&keys, Timestamp(200)), Some(&second));
        assert_eq!(key_in_force(&[], Timestamp(200)), None);
    }

    #[test]
    fn the_seed_never_shows_in_debug_output() {
        let key = SigningKeyRecord::from_seed([9; 32], Timestamp(0));
        let shown = format!("{key:?}");
        assert!(!shown.contains(&key.seed), "{shown}");
        assert!(shown.contains(&key.key_id));
    }
}
