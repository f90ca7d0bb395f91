//! Where export objects are written.

use async_trait::async_trait;
use auditlog_core::export::Compression;
use sha2::{Digest as _, Sha256};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    /// The object did not exist and now does.
    Created,
    /// An object with this key and the same bytes was already there (a retry after a crash
    /// between the write and the checkpoint): nothing was written.
    AlreadyPresent,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    /// An object with this key exists with other bytes. Never overwritten: a person must look.
    #[error("{key} exists with different content (sha256 {existing_sha256}); not overwritten")]
    Conflict {
        key: String,
        existing_sha256: String,
    },
    /// The write was refused or failed; `hint` says what to check.
    #[error("{message}{}", hint.as_ref().map(|h| format!(" (hint: {h})")).unwrap_or_default())]
    Failed {
        message: String,
        hint: Option<String>,
    },
}

impl SinkError {
    pub fn failed(message: impl Into<String>) -> Self {
        SinkError::Failed {
            message: message.into(),
            hint: None,
        }
    }
}

/// The `Content-Type` of an object by its key, the same in every store: an export object is a
/// gzip or zstd file (Athena, `gunzip` and `zstd -d` read it as such; no `Content-Encoding`,
/// so that HTTP clients do not silently decompress it), anything else (digests, verification
/// objects) JSON.
pub fn content_type(key: &str) -> &'static str {
    match Compression::of_key(key) {
        Some(Compression::Gzip) => "application/gzip",
        Some(Compression::Zstd) => "application/zstd",
        None => "application/json",
    }
}

/// What [`ObjectSink::create`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Creation {
    /// The object did not exist and now does.
    Created,
    /// An object with this key exists (its bytes are not looked at).
    Exists,
}

/// One destination's object store: the small trait every store implements (directory, S3, and
/// the stores to come). `create` must be atomic: a reader never sees a partial object, and of
/// two writers of the same key exactly one creates it. The exactly-once rule built on it,
/// [`ObjectSink::put_if_absent`] (create, and when the key exists, compare), is written once,
/// here, for all of them.
#[async_trait]
pub trait ObjectSink: Send + Sync {
    /// Creates `key` with `body` unless an object has that key. `sha256` is the digest of
    /// `body` (stores that check it on arrival send it along).
    async fn create(
        &self,
        key: &str,
        body: Vec<u8>,
        sha256: [u8; 32],
    ) -> Result<Creation, SinkError>;

    /// The bytes stored under `key`.
    async fn read(&self, key: &str) -> Result<Vec<u8>, SinkError>;

    /// Every key that starts with `prefix`, in any order (for the verifier).
    async fn list(&self, prefix: &str) -> Result<Vec<String>, SinkError>;

    /// The SHA-256 of the object stored under `key`. Stores that keep a checksum answer
    /// without reading the object; the default reads it back.
    async fn stored_sha256(&self, key: &str) -> Result<[u8; 32], SinkError> {
        Ok(Sha256::digest(self.read(key).await?).into())
    }

    /// Writes a small verification object through the same path (`destinations verify`). By
    /// default it is created like any object (each verification has a name of its own), so a
    /// create-only credential can verify too.
    async fn put_verification(&self, key: &str, body: Vec<u8>) -> Result<(), SinkError> {
        let sha256 = Sha256::digest(&body).into();
        self.put_if_absent(key, body, sha256).await.map(|_| ())
    }

    /// A short description for logs and status (`s3://bucket/prefix`, `dir:/path`).
    fn describe(&self) -> String;

    /// Where `key` is, for messages (`s3://bucket/key`, a path).
    fn locate(&self, key: &str) -> String;

    /// Creates `key` with `body` unless it exists; when it exists, it must hold exactly these
    /// bytes (a retry after a crash between the write and the checkpoint), else it is a
    /// conflict that is never overwritten.
    async fn put_if_absent(
        &self,
        key: &str,
        body: Vec<u8>,
        sha256: [u8; 32],
    ) -> Result<PutOutcome, SinkError> {
        match self.create(key, body, sha256).await? {
            Creation::Created => Ok(PutOutcome::Created),
            Creation::Exists => {
                let existing = self.stored_sha256(key).await?;
                if existing == sha256 {
                    Ok(PutOutcome::AlreadyPresent)
                } else {
                    Err(SinkError::Conflict {
                        key: self.locate(key),
                        existing_sha256: hex::encode(existing),
                    })
                }
            }
        }
    }
}
