//! The local-directory destination: the same keys as in S3, as paths under a root directory.
//!
//! A write is atomic and never clobbers: the bytes go to a temporary file in the target
//! directory, which is fsynced, then hard-linked to the final name (which fails if the name
//! exists), then the directory is fsynced. A reader sees the whole object or nothing.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use sha2::{Digest, Sha256};

use crate::sink::{ObjectSink, PutOutcome, SinkError};

#[derive(Debug, Clone)]
pub struct DirectorySink {
    root: PathBuf,
}

impl DirectorySink {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DirectorySink { root: root.into() }
    }

    fn path_of(&self, key: &str) -> Result<PathBuf, SinkError> {
        // Keys are made by us, but a prefix came from an operator: never leave the root.
        if key.split('/').any(|s| s == ".." || s.is_empty()) || key.starts_with('/') {
            return Err(SinkError::failed(format!("unsafe object key `{key}`")));
        }
        Ok(self.root.join(key))
    }
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> SinkError {
    let hint = match e.kind() {
        std::io::ErrorKind::PermissionDenied => Some("the exporter cannot write there".to_string()),
        std::io::ErrorKind::NotFound => Some("does the directory exist?".to_string()),
        _ => None,
    };
    SinkError::Failed {
        message: format!("{what} {}: {e}", path.display()),
        hint,
    }
}

fn write_new(path: &Path, body: &[u8], sha256: [u8; 32]) -> Result<PutOutcome, SinkError> {
    let dir = path
        .parent()
        .ok_or_else(|| SinkError::failed(format!("no parent for {}", path.display())))?;
    std::fs::create_dir_all(dir).map_err(|e| io_error("create", dir, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.{}.{nanos}.tmp", std::process::id()));
    let result = (|| {
        let mut file =
            std::fs::File::create_new(&temp).map_err(|e| io_error("create", &temp, e))?;
        file.write_all(body)
            .map_err(|e| io_error("write", &temp, e))?;
        file.sync_all().map_err(|e| io_error("fsync", &temp, e))?;
        match std::fs::hard_link(&temp, path) {
            Ok(()) => {
                if let Ok(d) = std::fs::File::open(dir) {
                    d.sync_all().map_err(|e| io_error("fsync", dir, e))?;
                }
                Ok(PutOutcome::Created)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let existing = std::fs::read(path).map_err(|e| io_error("read", path, e))?;
                let existing_sha: [u8; 32] = Sha256::digest(&existing).into();
                if existing_sha == sha256 {
                    Ok(PutOutcome::AlreadyPresent)
                } else {
                    Err(SinkError::Conflict {
                        key: path.display().to_string(),
                        existing_sha256: hex::encode(existing_sha),
                    })
                }
            }
            Err(e) => Err(io_error("link", path, e)),
        }
    })();
    let _ = std::fs::remove_file(&temp);
    result
}

#[async_trait]
impl ObjectSink for DirectorySink {
    async fn put_if_absent(
        &self,
        key: &str,
        body: Vec<u8>,
        sha256: [u8; 32],
    ) -> Result<PutOutcome, SinkError> {
        let path = self.path_of(key)?;
        tokio::task::spawn_blocking(move || write_new(&path, &body, sha256))
            .await
            .map_err(|e| SinkError::failed(e.to_string()))?
    }

    async fn put_verification(&self, key: &str, body: Vec<u8>) -> Result<(), SinkError> {
        let sha = Sha256::digest(&body).into();
        self.put_if_absent(key, body, sha).await.map(|_| ())
    }

    fn describe(&self) -> String {
        format!("dir:{}", self.root.display())
    }
}
