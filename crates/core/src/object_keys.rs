//! Every name the exporter writes and the verifier reads, built and parsed here and nowhere
//! else: the windows of receive time, the key of each object of a window, the key of each
//! digest, the verification object's key, and the stream (`{prefix}tenant={t}`) a key belongs
//! to. The export state machine, the digests and the verifier all depend on this module, and
//! it depends on none of them.

use crate::Timestamp;

/// How digest file names end.
pub const DIGEST_SUFFIX: &str = "_digest.json";

/// How an object store's export objects are compressed, chosen when the destination is added
/// and fixed for its life (the suffix is part of every key, and a retry must write the same
/// name). gzip is the default: every tool reads it. zstd compresses about as well at several
/// times the speed; Athena reads it from text tables by the `.zst` suffix (`docs/export.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    #[default]
    Gzip,
    Zstd,
}

impl Compression {
    /// Both, for listings and checks that accept either.
    pub const ALL: [Compression; 2] = [Compression::Gzip, Compression::Zstd];

    /// How the export objects' names end.
    pub fn suffix(self) -> &'static str {
        match self {
            Compression::Gzip => ".ndjson.gz",
            Compression::Zstd => ".ndjson.zst",
        }
    }

    /// `gzip` or `zstd`.
    pub fn parse(text: &str) -> Option<Compression> {
        Compression::ALL.into_iter().find(|c| c.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }

    pub fn is_gzip(&self) -> bool {
        *self == Compression::Gzip
    }

    /// The compression an export object's key names, or `None` for any other key.
    pub fn of_key(key: &str) -> Option<Compression> {
        Compression::ALL
            .into_iter()
            .find(|c| key.ends_with(c.suffix()))
    }
}

/// `[start, end)` in receive time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Window {
    pub start: Timestamp,
    pub end: Timestamp,
}

/// The window holding instant `at`.
pub fn window_containing(at: Timestamp, window_ms: i64) -> Window {
    let len = window_ms.max(1);
    let start = at.0.div_euclid(len) * len;
    Window {
        start: Timestamp(start),
        end: Timestamp(start + len),
    }
}

/// Whether a window may be exported at `now`.
pub fn is_closed(window: Window, now: Timestamp, grace_ms: i64) -> bool {
    window.end.0.saturating_add(grace_ms) <= now.0
}

/// `20261121T101500Z`: sortable, and free of characters that need escaping in keys.
pub fn compact_time(t: Timestamp) -> String {
    let secs = t.0.div_euclid(1000);
    match chrono::DateTime::from_timestamp(secs, 0) {
        Some(dt) => dt.format("%Y%m%dT%H%M%SZ").to_string(),
        None => format!("{}", t.0),
    }
}

/// The object key of one part of one window: a pure function of its inputs, so a retry writes
/// the same name. Hive-style partitions (by the window's start, UTC) let Athena prune by date
/// without a crawler.
pub fn object_key(
    prefix: &str,
    tenant: &str,
    window: Window,
    part: u32,
    compression: Compression,
) -> String {
    let start = compact_time(window.start);
    let end = compact_time(window.end);
    format!(
        "{prefix}tenant={tenant}/year={}/month={}/day={}/hour={}/{tenant}_{start}_{end}_{part:04}{}",
        &start[0..4],
        &start[4..6],
        &start[6..8],
        &start[9..11],
        compression.suffix(),
    )
}

/// Parses [`compact_time`]'s form back.
pub fn parse_compact_time(text: &str) -> Option<Timestamp> {
    let naive = chrono::NaiveDateTime::parse_from_str(text, "%Y%m%dT%H%M%SZ").ok()?;
    Some(Timestamp(naive.and_utc().timestamp_millis()))
}

/// The window an export object holds, read back from its key (the inverse of [`object_key`]
/// for the window).
pub fn object_window(key: &str) -> Option<Window> {
    let name = key.rsplit('/').next()?;
    let name = name.strip_suffix(Compression::of_key(name)?.suffix())?;
    let mut fields = name.rsplitn(4, '_');
    let _part = fields.next()?;
    let end = parse_compact_time(fields.next()?)?;
    let start = parse_compact_time(fields.next()?)?;
    Some(Window { start, end })
}

/// The key of a verification object (`destinations verify`).
pub fn verify_key(prefix: &str, at: Timestamp) -> String {
    format!(
        "{prefix}_verify/auditlog-verify-test-{}.json",
        compact_time(at)
    )
}

/// The top-level folder of every digest: the digests of a destination writing under `prefix`
/// go under `auditlog-digest/{prefix}`, outside the objects' prefix, so that a crawler or an
/// Athena table on the objects' prefix never reads them, and one IAM resource
/// (`arn:aws:s3:::bucket/auditlog-digest/{prefix}*`) grants them.
pub const DIGEST_ROOT: &str = "auditlog-digest/";

pub fn digest_prefix(prefix: &str) -> String {
    format!("{DIGEST_ROOT}{prefix}")
}

/// The key of the digest of `period` for a destination writing under `prefix`.
pub fn digest_key(prefix: &str, tenant: &str, period: Window) -> String {
    let start = compact_time(period.start);
    let end = compact_time(period.end);
    format!(
        "{}tenant={tenant}/year={}/month={}/day={}/{tenant}_{start}_{end}{DIGEST_SUFFIX}",
        digest_prefix(prefix),
        &start[0..4],
        &start[4..6],
        &start[6..8],
    )
}

/// The stream (`{prefix}tenant={t}`, as [`stream_of`] names object streams) a digest key
/// belongs to, judged by its location: its own stream without the digest root.
pub fn stream_of_digest(key: &str) -> Option<&str> {
    if !key.ends_with(DIGEST_SUFFIX) {
        return None;
    }
    stream_of(key)?.strip_prefix(DIGEST_ROOT)
}

/// The stream an object key belongs to: everything up to its `tenant=` partition
/// (`{prefix}tenant={t}`).
pub fn stream_of(key: &str) -> Option<&str> {
    let at = key.find("tenant=")?;
    let end = key[at..].find('/').map(|i| at + i)?;
    Some(&key[..end])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn windows_are_aligned_and_half_open() {
        let w = window_containing(Timestamp(1_795_256_123_456), 300_000);
        assert_eq!(w.start.0 % 300_000, 0);
        assert_eq!(w.end.0 - w.start.0, 300_000);
        assert!(w.start.0 <= 1_795_256_123_456 && 1_795_256_123_456 < w.end.0);
        let next = window_containing(w.end, 300_000);
        assert_eq!(next.start, w.end, "the end belongs to the next window");
    }

    #[test]
    fn a_window_closes_after_its_grace() {
        let w = window_containing(Timestamp(1_000), 1_000);
        assert!(!is_closed(w, Timestamp(2_999), 1_000));
        assert!(is_closed(w, Timestamp(3_000), 1_000));
    }

    #[test]
    fn object_keys_are_hive_partitioned_and_deterministic() {
        // 2026-11-21T10:15:00Z
        let w = window_containing(Timestamp(1_795_256_100_000), 300_000);
        let key = object_key("user-events-audit/", "acme", w, 0, Compression::Gzip);
        assert_eq!(
            key,
            "user-events-audit/tenant=acme/year=2026/month=11/day=21/hour=10/acme_20261121T101500Z_20261121T102000Z_0000.ndjson.gz"
        );
        assert_eq!(
            key,
            object_key("user-events-audit/", "acme", w, 0, Compression::Gzip)
        );
        assert_ne!(
            key,
            object_key("user-events-audit/", "acme", w, 1, Compression::Gzip)
        );
        assert_eq!(object_window(&key), Some(w));
        assert_eq!(object_window("user-events-audit/tenant=acme/x.json"), None);
    }

    #[test]
    fn a_zstd_destination_names_the_same_objects_with_its_own_suffix() {
        let w = window_containing(Timestamp(1_795_256_100_000), 300_000);
        let gzip = object_key("p/", "acme", w, 3, Compression::Gzip);
        let zstd = object_key("p/", "acme", w, 3, Compression::Zstd);
        assert_eq!(
            zstd,
            "p/tenant=acme/year=2026/month=11/day=21/hour=10/acme_20261121T101500Z_20261121T102000Z_0003.ndjson.zst"
        );
        assert_eq!(gzip.strip_suffix(".gz"), zstd.strip_suffix(".zst"));
        assert_eq!(object_window(&zstd), Some(w));
        assert_eq!(Compression::of_key(&zstd), Some(Compression::Zstd));
        assert_eq!(Compression::of_key(&gzip), Some(Compression::Gzip));
        assert_eq!(Compression::of_key("p/tenant=acme/a.ndjson"), None);
        assert_eq!(Compression::of_key("p/tenant=acme/a.zst"), None);
        assert_eq!(stream_of(&zstd), stream_of(&gzip));
    }

    #[test]
    fn digest_keys_sit_outside_the_objects_prefix_and_name_their_stream() {
        let period = window_containing(Timestamp(1_795_256_100_000), 3_600_000);
        let key = digest_key("user-events-audit/", "acme", period);
        assert!(
            key.starts_with("auditlog-digest/user-events-audit/tenant=acme/"),
            "{key}"
        );
        assert!(key.ends_with(DIGEST_SUFFIX));
        assert_eq!(
            stream_of_digest(&key),
            Some("user-events-audit/tenant=acme")
        );
        let object = object_key("user-events-audit/", "acme", period, 0, Compression::Gzip);
        assert_eq!(stream_of(&object), Some("user-events-audit/tenant=acme"));
        assert_eq!(stream_of_digest(&object), None, "an object is not a digest");
        assert!(verify_key("p/", Timestamp(0)).starts_with("p/_verify/"));
    }
}
