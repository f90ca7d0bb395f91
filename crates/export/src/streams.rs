//! Reading exported streams back for `auditlog verify`: every export object and digest of an
//! object store (a local copy of a destination, an export directory or `aws s3 sync` of a
//! bucket, or straight from S3), listed and read through the same [`ObjectSink`] the exporter
//! writes with, grouped by stream (one prefix and tenant), in key order, objects with the hash of
//! their bytes and their text. The checks themselves are pure:
//! `auditlog_core::integrity::check_stream` and `auditlog_core::digest::check_digests`.

use std::collections::BTreeMap;

use auditlog_core::digest::DigestFile;
use auditlog_core::export::Compression;
use auditlog_core::integrity::{ObjectContent, sha256_hex};
pub use auditlog_core::object_keys::stream_of;
use auditlog_core::object_keys::{DIGEST_SUFFIX, digest_prefix, stream_of_digest};

use crate::sink::{ObjectSink, SinkError};

/// The objects and digests of each stream, by stream name (`{prefix}tenant={t}`), and the
/// export-looking files that belong to no stream.
#[derive(Debug, Default)]
pub struct Streams {
    pub streams: BTreeMap<String, Vec<ObjectContent>>,
    pub digests: BTreeMap<String, Vec<DigestFile>>,
    pub strays: Vec<String>,
}

/// Whether a key names an export object or a digest (what the verifier reads).
fn wanted(key: &str) -> bool {
    Compression::of_key(key).is_some() || key.ends_with(DIGEST_SUFFIX)
}

impl Streams {
    /// Every stream name that has objects or digests.
    pub fn names(&self) -> std::collections::BTreeSet<&String> {
        self.streams.keys().chain(self.digests.keys()).collect()
    }

    fn add(&mut self, key: String, bytes: &[u8]) {
        if key.ends_with(DIGEST_SUFFIX) {
            match stream_of_digest(&key) {
                Some(stream) => {
                    self.digests
                        .entry(stream.to_string())
                        .or_default()
                        .push(DigestFile {
                            key,
                            bytes: bytes.to_vec(),
                        })
                }
                None => self.strays.push(key),
            }
            return;
        }
        let object = object_content(key.clone(), bytes);
        match stream_of(&key) {
            Some(stream) => self
                .streams
                .entry(stream.to_string())
                .or_default()
                .push(object),
            None => self.strays.push(key),
        }
    }

    fn sort(&mut self) {
        for objects in self.streams.values_mut() {
            objects.sort_by(|a, b| a.key.cmp(&b.key));
        }
        for digests in self.digests.values_mut() {
            digests.sort_by(|a, b| a.key.cmp(&b.key));
        }
        self.strays.sort();
    }
}

/// Reads every export object under `prefix` in an object store, and every digest under the
/// digest prefix beside it (for a directory: every one under its root, with `prefix` empty).
/// Unreadable objects (cut, damaged, not the compression their suffix names) are kept as an error for the checks to report; a store that cannot be listed
/// or read is an error.
pub async fn read_streams(store: &dyn ObjectSink, prefix: &str) -> Result<Streams, SinkError> {
    let mut found = Streams::default();
    let mut keys = std::collections::BTreeSet::new();
    keys.extend(store.list(prefix).await?);
    if !prefix.is_empty() {
        keys.extend(store.list(&digest_prefix(prefix)).await?);
    }
    for key in keys.into_iter().filter(|k| wanted(k)) {
        let bytes = store.read(&key).await?;
        found.add(key, &bytes);
    }
    found.sort();
    Ok(found)
}

/// One object as the checks take it: its key, the SHA-256 of its bytes, and its text
/// (decompressed as its suffix says: `.ndjson.gz` or `.ndjson.zst`).
pub fn object_content(key: String, bytes: &[u8]) -> ObjectContent {
    let text = crate::parts::decompress(Compression::of_key(&key).unwrap_or_default(), bytes)
        .map_err(|e| e.to_string());
    ObjectContent {
        key,
        sha256: sha256_hex(bytes),
        text,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn keys_group_by_prefix_and_tenant() {
        assert_eq!(
            stream_of("user-events-audit/tenant=acme/year=2026/month=11/x.ndjson.gz"),
            Some("user-events-audit/tenant=acme")
        );
        assert_eq!(stream_of("tenant=a/b.ndjson.gz"), Some("tenant=a"));
        assert_eq!(stream_of("loose.ndjson.gz"), None);
    }

    #[test]
    fn a_cut_gzip_stream_is_an_error_to_report_not_a_failure_to_read() {
        let object = object_content("k".into(), b"\x1f\x8b\x08\x00");
        assert!(object.text.is_err());
        assert_eq!(object.sha256.len(), 64);
    }
}
