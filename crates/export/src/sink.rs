//! Where export objects are written.

use async_trait::async_trait;

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

/// One destination's storage. Implementations must make `put_if_absent` atomic: a reader never
/// sees a partial object, and of two writers of the same key exactly one creates it.
#[async_trait]
pub trait ObjectSink: Send + Sync {
    /// Creates `key` with `body` unless it exists. `sha256` is the digest of `body`.
    async fn put_if_absent(
        &self,
        key: &str,
        body: Vec<u8>,
        sha256: [u8; 32],
    ) -> Result<PutOutcome, SinkError>;

    /// Writes a small verification object through the same path (`destinations verify`).
    async fn put_verification(&self, key: &str, body: Vec<u8>) -> Result<(), SinkError>;

    /// A short description for logs and status (`s3://bucket/prefix`, `dir:/path`).
    fn describe(&self) -> String;
}
