//! The local-directory destination: the same keys as in S3, as paths under a root directory.
//!
//! A write is atomic and never clobbers: the bytes go to a temporary file in the target
//! directory, which is fsynced, then hard-linked to the final name (which fails if the name
//! exists), then the directory is fsynced. A reader sees the whole object or nothing.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use crate::sink::{Creation, ObjectSink, SinkError};

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

fn write_new(path: &Path, body: &[u8]) -> Result<Creation, SinkError> {
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
                Ok(Creation::Created)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(Creation::Exists),
            Err(e) => Err(io_error("link", path, e)),
        }
    })();
    let _ = std::fs::remove_file(&temp);
    result
}

/// Every file under `root` whose key (its path below `root`, `/`-separated) starts with
/// `prefix`; temporary files of writes in progress (names starting with `.`) are not objects.
fn list_keys(root: &Path, prefix: &str) -> Result<Vec<String>, SinkError> {
    let mut keys = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && dir != root => continue,
            Err(e) => return Err(io_error("list", &dir, e)),
        };
        for entry in entries {
            let path = entry.map_err(|e| io_error("list", &dir, e))?.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            {
                continue;
            }
            let key = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            if key.starts_with(prefix) {
                keys.push(key);
            }
        }
    }
    Ok(keys)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, SinkError> + Send + 'static,
) -> Result<T, SinkError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| SinkError::failed(e.to_string()))?
}

#[async_trait]
impl ObjectSink for DirectorySink {
    async fn create(
        &self,
        key: &str,
        body: Vec<u8>,
        _sha256: [u8; 32],
    ) -> Result<Creation, SinkError> {
        let path = self.path_of(key)?;
        blocking(move || write_new(&path, &body)).await
    }

    async fn read(&self, key: &str) -> Result<Vec<u8>, SinkError> {
        let path = self.path_of(key)?;
        blocking(move || std::fs::read(&path).map_err(|e| io_error("read", &path, e))).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, SinkError> {
        let (root, prefix) = (self.root.clone(), prefix.to_string());
        blocking(move || list_keys(&root, &prefix)).await
    }

    fn describe(&self) -> String {
        format!("dir:{}", self.root.display())
    }

    fn locate(&self, key: &str) -> String {
        self.root.join(key).display().to_string()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::sink::PutOutcome;
    use sha2::{Digest, Sha256};

    fn sha(body: &[u8]) -> [u8; 32] {
        Sha256::digest(body).into()
    }

    #[tokio::test]
    async fn objects_are_created_once_compared_on_a_retry_and_listed() {
        let dir = tempfile::tempdir().unwrap();
        let sink = DirectorySink::new(dir.path());
        let key = "p/tenant=acme/a.ndjson.gz";
        let put = |body: &'static [u8]| sink.put_if_absent(key, body.to_vec(), sha(body));
        assert_eq!(put(b"one").await.unwrap(), PutOutcome::Created);
        assert_eq!(put(b"one").await.unwrap(), PutOutcome::AlreadyPresent);
        match put(b"two").await {
            Err(SinkError::Conflict {
                key: at,
                existing_sha256,
            }) => {
                assert!(at.ends_with(key), "{at}");
                assert_eq!(existing_sha256, hex::encode(sha(b"one")));
            }
            other => panic!("expected a conflict, got {other:?}"),
        }
        assert_eq!(sink.read(key).await.unwrap(), b"one");
        sink.create("q/b.json", b"x".to_vec(), sha(b"x"))
            .await
            .unwrap();
        // A write in progress leaves a dot-file behind only while it runs: never an object.
        std::fs::write(dir.path().join("p/tenant=acme/.a.tmp"), b"partial").unwrap();
        let mut all = sink.list("").await.unwrap();
        all.sort();
        assert_eq!(all, ["p/tenant=acme/a.ndjson.gz", "q/b.json"]);
        assert_eq!(sink.list("p/").await.unwrap(), [key]);
        assert!(sink.list("nothing/").await.unwrap().is_empty());
        assert!(
            sink.read("../etc/passwd").await.is_err(),
            "never outside the root"
        );
    }
}
