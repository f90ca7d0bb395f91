//! Reading exported streams back for `auditlog verify`: every export object under a local copy
//! of a destination (an export directory, or `aws s3 sync` of a bucket) or straight from S3,
//! grouped by stream (one prefix and tenant), in key order, with the hash of its bytes and its
//! text. The checks themselves are pure: `auditlog_core::integrity::check_stream`.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use auditlog_core::integrity::{ObjectContent, sha256_hex};

/// The objects of each stream, by stream name (`{prefix}tenant={t}`), and the export-looking
/// files that belong to no stream.
#[derive(Debug, Default)]
pub struct Streams {
    pub streams: BTreeMap<String, Vec<ObjectContent>>,
    pub strays: Vec<String>,
}

/// The stream an object key belongs to: everything up to its `tenant=` partition.
pub fn stream_of(key: &str) -> Option<&str> {
    let at = key.find("tenant=")?;
    let end = key[at..].find('/').map(|i| at + i)?;
    Some(&key[..end])
}

impl Streams {
    fn add(&mut self, key: String, bytes: &[u8]) {
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
        self.strays.sort();
    }
}

/// Reads every `*.ndjson.gz` under `prefix` in `bucket`, with `client`'s credentials.
#[cfg(feature = "s3")]
pub async fn read_s3(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> Result<Streams, String> {
    let mut found = Streams::default();
    let mut pages = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            format!(
                "listing s3://{bucket}/{prefix}: {}",
                aws_sdk_s3::error::DisplayErrorContext(&e)
            )
        })?;
        for object in page.contents() {
            let Some(key) = object.key().filter(|k| k.ends_with(".ndjson.gz")) else {
                continue;
            };
            let got = client
                .get_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .map_err(|e| {
                    format!(
                        "reading s3://{bucket}/{key}: {}",
                        aws_sdk_s3::error::DisplayErrorContext(&e)
                    )
                })?;
            let bytes = got
                .body
                .collect()
                .await
                .map_err(|e| format!("reading s3://{bucket}/{key}: {e}"))?
                .into_bytes();
            found.add(key.to_string(), &bytes);
        }
    }
    found.sort();
    Ok(found)
}

/// Reads every `*.ndjson.gz` under `root`. Unreadable gzip is kept as an error for the checks to
/// report; an unreadable directory or file is an I/O error.
pub fn read_directory(root: &Path) -> std::io::Result<Streams> {
    let mut found = Streams::default();
    let mut stack: Vec<PathBuf> = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let key = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            if !key.ends_with(".ndjson.gz") {
                continue;
            }
            let bytes = std::fs::read(&path)?;
            found.add(key, &bytes);
        }
    }
    found.sort();
    Ok(found)
}

/// One object as the checks take it: its key, the SHA-256 of its bytes, and its text.
pub fn object_content(key: String, bytes: &[u8]) -> ObjectContent {
    let mut text = String::new();
    let text = match flate2::read::GzDecoder::new(bytes).read_to_string(&mut text) {
        Ok(_) => Ok(text),
        Err(e) => Err(e.to_string()),
    };
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
