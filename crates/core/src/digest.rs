//! Signed digests, the pure part: what a digest file holds, where it goes, how it is signed,
//! and the verifier's checks of a stream's digests against its objects. The exporter writes one
//! digest per period (default an hour) for every destination, also for periods in which no
//! object was delivered: a verifier then knows how far the stream must reach, so deleting the
//! newest objects, or the newest objects and their digests, is detected. See
//! `docs/integrity.md`.
//!
//! Digests live under [`DIGEST_ROOT`], outside the objects' prefix. A digest is a JSON document. Its signature is Ed25519 over the RFC 8785 (JCS) form of the
//! document without its `signature` member, so any JCS library and any Ed25519 library can check
//! it; the file itself is pretty-printed for people.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Timestamp;
pub use crate::object_keys::{
    DIGEST_ROOT, DIGEST_SUFFIX, digest_key, digest_prefix, stream_of_digest,
};
use crate::signing::{SigningError, SigningKeyRecord};

mod check;
pub use check::{DigestCheck, DigestFile, DigestOptions, check_digests, human_duration};

/// The `format` member of every digest this version writes.
pub const DIGEST_FORMAT: &str = "auditlog-digest/1";
/// How long after its period ends a digest may take to appear, by default: the export grace
/// (2 minutes), the schedule (every 5 minutes) and the pass itself, with room to spare.
pub const DEFAULT_DIGEST_SLACK_MS: i64 = 15 * 60_000;
/// The member that carries the signature; everything else is signed.
pub const SIGNATURE_MEMBER: &str = "signature";

/// One object delivered in a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestObject {
    pub key: String,
    pub first_seq: u64,
    pub last_seq: u64,
    pub count: u64,
    /// SHA-256 (hex) of the object as stored (gzip).
    pub sha256: String,
    /// SHA-256 (hex) of its uncompressed NDJSON.
    pub ndjson_sha256: String,
}

/// The digest before this one in the stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestLink {
    pub key: String,
    /// SHA-256 (hex) of that digest file's bytes.
    pub sha256: String,
}

/// Everything a digest says, except its signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestBody {
    pub format: String,
    pub destination_id: String,
    pub tenant: String,
    /// The objects' prefix.
    pub prefix: String,
    pub period_start: Timestamp,
    pub period_end: Timestamp,
    /// The stream's last sequence number when the period began (0: none yet) ...
    pub seq_before: u64,
    /// ... and when it ended. The listed objects hold exactly the numbers in between.
    pub last_seq: u64,
    /// SHA-256 of the stream's last object at the period's end.
    pub last_object_sha256: Option<String>,
    /// Every object delivered for the period, in stream order.
    pub objects: Vec<DigestObject>,
    /// `None` only on the stream's first digest.
    pub previous_digest: Option<DigestLink>,
    /// The signing key (see `GET /v1/integrity/keys`).
    pub key_id: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DigestError {
    #[error(transparent)]
    Signing(#[from] SigningError),
    #[error("cannot serialize a digest: {0}")]
    Serialize(String),
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("not a JSON object")]
    NotAnObject,
    #[error("no `{SIGNATURE_MEMBER}` string")]
    NoSignature,
    #[error("not a digest: {0}")]
    NotADigest(String),
}

fn canonical(value: &Value) -> Result<Vec<u8>, DigestError> {
    serde_jcs::to_vec(value).map_err(|e| DigestError::Serialize(e.to_string()))
}

/// The digest file for `body` signed with `key` (whose id `body.key_id` must be): the same
/// bytes for the same inputs, since Ed25519 signatures are deterministic.
pub fn signed_digest(body: &DigestBody, key: &SigningKeyRecord) -> Result<Vec<u8>, DigestError> {
    let serialize = |e: serde_json::Error| DigestError::Serialize(e.to_string());
    let mut value = serde_json::to_value(body).map_err(serialize)?;
    let message = canonical(&value)?;
    let signature = key.sign(&message)?;
    if let Value::Object(map) = &mut value {
        map.insert(SIGNATURE_MEMBER.into(), Value::String(signature));
    }
    let mut bytes = serde_json::to_vec_pretty(&value).map_err(serialize)?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// A digest file, parsed.
#[derive(Debug, Clone)]
pub struct ParsedDigest {
    pub body: DigestBody,
    pub signature: String,
    /// What the signature covers: the JCS form of the document without `signature`.
    pub signed: Vec<u8>,
}

pub fn parse_digest(bytes: &[u8]) -> Result<ParsedDigest, DigestError> {
    let mut value: Value =
        serde_json::from_slice(bytes).map_err(|e| DigestError::NotJson(e.to_string()))?;
    let Value::Object(map) = &mut value else {
        return Err(DigestError::NotAnObject);
    };
    let signature = match map.remove(SIGNATURE_MEMBER) {
        Some(Value::String(s)) => s,
        _ => return Err(DigestError::NoSignature),
    };
    let signed = canonical(&value)?;
    let body: DigestBody =
        serde_json::from_value(value).map_err(|e| DigestError::NotADigest(e.to_string()))?;
    Ok(ParsedDigest {
        body,
        signature,
        signed,
    })
}

#[cfg(test)]
mod tests;
