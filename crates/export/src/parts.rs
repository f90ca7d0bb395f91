//! Streaming encoding of a window into parts: export lines (each stored event with its
//! `integrity` member: sequence number and receipt) into a gzip or zstd stream (the
//! destination's [`Compression`]), a new part once the uncompressed size would pass the limit.
//! Only the current part is in memory.
//!
//! The last line of each part also carries the part's summary (first and last sequence number,
//! count, and the hash of the stream's previous object), so a line is written only once the
//! next one shows whether it is the last: the encoder holds one line back.

use std::io::Write as _;

use auditlog_core::export::Compression;
use auditlog_core::integrity::{
    IntegrityError, LineIntegrity, ObjectSummary, SourceEvent, export_line, receipt,
};
use auditlog_core::stream::filter::Filter;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

/// zstd's own default, and the level Athena writes with: several times gzip's speed at about
/// its ratio on our lines (`examples/export_bench.rs`).
const ZSTD_LEVEL: i32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum PartError {
    #[error("a stored event cannot be exported: {0}")]
    Line(#[from] IntegrityError),
    #[error("{compression} compression failed: {source}")]
    Compress {
        compression: &'static str,
        source: std::io::Error,
    },
}

/// The open compressed stream of the current part.
enum Compressor {
    Gzip(GzEncoder<Vec<u8>>),
    Zstd(zstd::stream::write::Encoder<'static, Vec<u8>>),
}

impl Compressor {
    fn new(compression: Compression) -> Result<Self, PartError> {
        Ok(match compression {
            // Level 6, as `gzip` and Firehose write: the objects stay the size they always were.
            Compression::Gzip => {
                Compressor::Gzip(GzEncoder::new(Vec::new(), flate2::Compression::default()))
            }
            Compression::Zstd => {
                let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), ZSTD_LEVEL)
                    .map_err(|e| compress_error(compression, e))?;
                // A frame checksum, as gzip's CRC-32: a damaged object fails to decompress
                // rather than yielding wrong lines.
                encoder
                    .include_checksum(true)
                    .map_err(|e| compress_error(compression, e))?;
                Compressor::Zstd(encoder)
            }
        })
    }

    fn compression(&self) -> Compression {
        match self {
            Compressor::Gzip(_) => Compression::Gzip,
            Compressor::Zstd(_) => Compression::Zstd,
        }
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), PartError> {
        let written = match self {
            Compressor::Gzip(encoder) => encoder.write_all(bytes),
            Compressor::Zstd(encoder) => encoder.write_all(bytes),
        };
        written.map_err(|e| compress_error(self.compression(), e))
    }

    fn finish(self) -> Result<Vec<u8>, PartError> {
        let compression = self.compression();
        match self {
            Compressor::Gzip(encoder) => encoder.finish(),
            Compressor::Zstd(encoder) => encoder.finish(),
        }
        .map_err(|e| compress_error(compression, e))
    }
}

/// The text of an export object compressed as `compression` (the verifier's and the tests'
/// way back); an error for bytes that are cut, damaged or not that format.
pub fn decompress(compression: Compression, bytes: &[u8]) -> std::io::Result<String> {
    use std::io::Read as _;
    let mut text = String::new();
    match compression {
        Compression::Gzip => flate2::read::GzDecoder::new(bytes).read_to_string(&mut text)?,
        Compression::Zstd => zstd::stream::read::Decoder::new(bytes)?.read_to_string(&mut text)?,
    };
    Ok(text)
}

fn compress_error(compression: Compression, source: std::io::Error) -> PartError {
    PartError::Compress {
        compression: compression.as_str(),
        source,
    }
}

/// Upper bounds of what a line's `integrity` member adds to the stored event (20-digit numbers,
/// a 64-digit hash), with and without the object summary: the size check reserves room for
/// them so that a part stays under its limit.
const LINE_OVERHEAD: usize = 120;
const SUMMARY_OVERHEAD: usize = 200;

/// A finished part: compressed bytes and what they hold.
#[derive(Debug, Clone)]
pub struct Part {
    pub body: Vec<u8>,
    /// SHA-256 of `body` (the object as stored).
    pub sha256: [u8; 32],
    /// SHA-256 of the uncompressed NDJSON.
    pub ndjson_sha256: [u8; 32],
    pub events: u64,
    pub uncompressed_bytes: u64,
    pub first_seq: u64,
    pub last_seq: u64,
}

/// The next line, not yet written: the stored event (or the record rendered from it) and its
/// hash, with the event behind a rendered record.
struct Pending {
    stored: String,
    sha256: String,
    event: Option<SourceEvent>,
}

impl Pending {
    /// An upper bound of the line's length without an object summary: an id escaped as JSON
    /// takes at most six bytes per byte.
    fn len(&self) -> usize {
        let event = self
            .event
            .as_ref()
            .map_or(0, |e| e.id.len() * 6 + e.receipt.len() + 40);
        self.stored.len() + LINE_OVERHEAD + event
    }
}

pub struct PartEncoder {
    max_uncompressed: usize,
    compression: Compression,
    current: Option<Compressor>,
    ndjson: Sha256,
    events: u64,
    bytes: usize,
    first_seq: u64,
    last_seq: u64,
    previous_object_sha256: Option<String>,
    pending: Option<Pending>,
    /// Declared in every part's summary.
    filter: Option<Filter>,
}

impl PartEncoder {
    /// Continues a stream whose last delivered sequence number is `last_seq` (0 for a new one)
    /// and whose last object hashed to `previous_object_sha256`.
    pub fn new(
        max_uncompressed: usize,
        compression: Compression,
        last_seq: u64,
        previous_object_sha256: Option<String>,
    ) -> Self {
        PartEncoder {
            max_uncompressed: max_uncompressed.max(1),
            compression,
            current: None,
            ndjson: Sha256::new(),
            events: 0,
            bytes: 0,
            first_seq: 0,
            last_seq,
            previous_object_sha256,
            pending: None,
            filter: None,
        }
    }

    /// Declares the destination's filter in every part's summary (the caller writes only the
    /// events it admits).
    pub fn with_filter(mut self, filter: Option<Filter>) -> Self {
        self.filter = filter;
        self
    }

    /// The last sequence number written.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// The hash (hex) of the last finished part, or of the object before this encoder's first.
    pub fn previous_object_sha256(&self) -> Option<&str> {
        self.previous_object_sha256.as_deref()
    }

    /// Adds one stored event with the receipt stored beside it; returns the finished part when
    /// the line before it turned out to be that part's last (this one then starts the next part).
    ///
    /// The stored receipt is copied, not recomputed: ingest computed it from the event as
    /// received, so a stored event changed since no longer matches its line's receipt, and the
    /// verifier says so. Events stored without one (before receipts were kept) get theirs
    /// computed here, as does one whose stored receipt is not a SHA-256 in hex.
    pub fn push(
        &mut self,
        stored_json: &str,
        stored_receipt: Option<&str>,
    ) -> Result<Option<Part>, PartError> {
        let sha256 = receipt_of(stored_json, stored_receipt)?;
        self.queue(Pending {
            stored: stored_json.to_string(),
            sha256,
            event: None,
        })
    }

    /// Adds one record rendered from an event in another format (OCSF, ECS): its line carries
    /// the hash of the record itself, which the verifier recomputes, and the event's id and
    /// ingest receipt, which tie it to what the sender was answered.
    pub fn push_record(
        &mut self,
        record_json: String,
        event: SourceEvent,
    ) -> Result<Option<Part>, PartError> {
        let sha256 = receipt(&record_json)?;
        self.queue(Pending {
            stored: record_json,
            sha256,
            event: Some(event),
        })
    }

    fn queue(&mut self, next: Pending) -> Result<Option<Part>, PartError> {
        let mut finished = None;
        if let Some(pending) = self.pending.take() {
            if self.bytes + pending.len() + next.len() + SUMMARY_OVERHEAD <= self.max_uncompressed {
                self.write(pending, false)?;
            } else {
                self.write(pending, true)?;
                finished = self.finish_part()?;
            }
        }
        self.pending = Some(next);
        Ok(finished)
    }

    /// The last part, if any line is pending.
    pub fn finish(&mut self) -> Result<Option<Part>, PartError> {
        match self.pending.take() {
            Some(pending) => {
                self.write(pending, true)?;
                self.finish_part()
            }
            None => Ok(None),
        }
    }

    fn write(&mut self, pending: Pending, last_of_part: bool) -> Result<(), PartError> {
        let seq = self.last_seq + 1;
        if self.events == 0 {
            self.first_seq = seq;
        }
        let object = last_of_part.then(|| ObjectSummary {
            first_seq: self.first_seq,
            last_seq: seq,
            count: self.events + 1,
            previous_object_sha256: self.previous_object_sha256.clone(),
            filter: self.filter.clone(),
        });
        let mut line = export_line(
            &pending.stored,
            &LineIntegrity {
                seq,
                sha256: pending.sha256,
                event: pending.event,
                object,
            },
        )?;
        line.push('\n');
        let compressor = match &mut self.current {
            Some(compressor) => compressor,
            None => self.current.insert(Compressor::new(self.compression)?),
        };
        compressor.write(line.as_bytes())?;
        self.ndjson.update(line.as_bytes());
        self.events += 1;
        self.bytes += line.len();
        self.last_seq = seq;
        Ok(())
    }

    fn finish_part(&mut self) -> Result<Option<Part>, PartError> {
        let Some(compressor) = self.current.take() else {
            return Ok(None);
        };
        let body = compressor.finish()?;
        let sha256: [u8; 32] = Sha256::digest(&body).into();
        let ndjson = std::mem::replace(&mut self.ndjson, Sha256::new());
        let part = Part {
            sha256,
            ndjson_sha256: ndjson.finalize().into(),
            body,
            events: self.events,
            uncompressed_bytes: self.bytes as u64,
            first_seq: self.first_seq,
            last_seq: self.last_seq,
        };
        self.previous_object_sha256 = Some(hex::encode(sha256));
        self.events = 0;
        self.bytes = 0;
        Ok(Some(part))
    }
}

/// The receipt of a stored event: the one stored beside it when it is a SHA-256 in hex (ingest
/// computed it from the event as received), else computed from the stored JSON (events stored
/// before receipts were kept).
pub fn receipt_of(
    stored_json: &str,
    stored_receipt: Option<&str>,
) -> Result<String, IntegrityError> {
    match stored_receipt.filter(|r| is_sha256_hex(r)) {
        Some(r) => Ok(r.to_string()),
        None => receipt(stored_json),
    }
}

/// 64 lowercase hex digits, as every receipt is written.
fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::BTreeMap;
    use std::io::Read as _;

    use auditlog_core::integrity::{ObjectContent, StreamStart, check_stream, parse_line};

    use super::*;

    fn gunzip(body: &[u8]) -> String {
        let mut text = String::new();
        flate2::read::GzDecoder::new(body)
            .read_to_string(&mut text)
            .unwrap();
        text
    }

    /// Through the zstd command line's own library, not ours, so the test holds the frames to
    /// the format rather than to our decoder.
    fn unzstd(body: &[u8]) -> String {
        String::from_utf8(zstd::stream::decode_all(body).unwrap()).unwrap()
    }

    fn event(i: u32) -> String {
        format!("{{\"id\":\"e{i:02}\",\"pad\":\"xxxxxxxxxx\"}}")
    }

    fn encode(encoder: &mut PartEncoder, events: impl IntoIterator<Item = String>) -> Vec<Part> {
        let mut parts = Vec::new();
        for e in events {
            parts.extend(encoder.push(&e, None).unwrap());
        }
        parts.extend(encoder.finish().unwrap());
        parts
    }

    fn contents(parts: &[Part]) -> Vec<ObjectContent> {
        parts
            .iter()
            .enumerate()
            .map(|(i, p)| ObjectContent {
                key: format!("part-{i:04}"),
                sha256: hex::encode(p.sha256),
                text: Ok(gunzip(&p.body)),
            })
            .collect()
    }

    #[test]
    fn lines_split_into_parts_past_the_limit_and_nothing_is_lost() {
        let mut encoder = PartEncoder::new(1000, Compression::Gzip, 0, None);
        let parts = encode(&mut encoder, (0..20).map(event));
        assert!(parts.len() > 1);
        let ids: Vec<String> = parts
            .iter()
            .flat_map(|p| {
                gunzip(&p.body)
                    .lines()
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .map(|line| parse_line(&line).unwrap().id.unwrap())
            .collect();
        assert_eq!(ids, (0..20).map(|i| format!("e{i:02}")).collect::<Vec<_>>());
        for p in &parts {
            assert!(p.uncompressed_bytes <= 1000, "{}", p.uncompressed_bytes);
            assert_eq!(
                p.ndjson_sha256,
                <[u8; 32]>::from(Sha256::digest(gunzip(&p.body)))
            );
        }
        assert_eq!(parts.iter().map(|p| p.events).sum::<u64>(), 20);
        // Sequence numbers, summaries and links check out as one stream.
        let check = check_stream(&contents(&parts), StreamStart::Beginning, &BTreeMap::new());
        assert!(check.problems.is_empty(), "{:?}", check.problems);
        assert_eq!(check.last_seq, Some(20));
        assert_eq!(encoder.last_seq(), 20);
    }

    #[test]
    fn a_stream_continues_across_encoders() {
        let mut first = PartEncoder::new(1 << 20, Compression::Gzip, 0, None);
        let mut parts = encode(&mut first, (0..3).map(event));
        let mut second = PartEncoder::new(
            1 << 20,
            Compression::Gzip,
            first.last_seq(),
            first.previous_object_sha256().map(str::to_string),
        );
        parts.extend(encode(&mut second, (3..5).map(event)));
        assert_eq!(parts[1].first_seq, 4);
        let check = check_stream(&contents(&parts), StreamStart::Beginning, &BTreeMap::new());
        assert!(check.problems.is_empty(), "{:?}", check.problems);
    }

    #[test]
    fn the_same_lines_give_the_same_bytes() {
        for compression in Compression::ALL {
            let encode_once = || {
                let mut e = PartEncoder::new(1 << 20, compression, 41, Some("ab".repeat(32)));
                encode(&mut e, [event(1), event(2)]).remove(0)
            };
            assert_eq!(
                encode_once().body,
                encode_once().body,
                "{compression:?} output is deterministic"
            );
            assert_eq!(encode_once().first_seq, 42);
        }
    }

    #[test]
    fn a_zstd_part_holds_the_same_lines_as_a_gzip_one_and_is_checked_alike() {
        let mut gzip = PartEncoder::new(1000, Compression::Gzip, 0, None);
        let mut zstd = PartEncoder::new(1000, Compression::Zstd, 0, None);
        let gzip_parts = encode(&mut gzip, (0..20).map(event));
        let zstd_parts = encode(&mut zstd, (0..20).map(event));
        assert_eq!(gzip_parts.len(), zstd_parts.len());
        assert!(zstd_parts.len() > 1);
        for (i, (g, z)) in gzip_parts.iter().zip(&zstd_parts).enumerate() {
            // A zstd frame (magic 28 b5 2f fd) holding the lines the gzip part holds: the very
            // bytes in the first part; later ones differ only in the link to the previous
            // object, the hash of its own compressed bytes.
            assert_eq!(z.body[..4], [0x28, 0xb5, 0x2f, 0xfd]);
            assert_eq!((g.first_seq, g.last_seq), (z.first_seq, z.last_seq));
            let (g_text, z_text) = (gunzip(&g.body), unzstd(&z.body));
            if i == 0 {
                assert_eq!(g_text, z_text);
            }
            assert_eq!(g_text.lines().count(), z_text.lines().count());
            assert_eq!(z.ndjson_sha256, <[u8; 32]>::from(Sha256::digest(&z_text)));
            assert_eq!(decompress(Compression::Zstd, &z.body).unwrap(), z_text);
        }
        let contents: Vec<ObjectContent> = zstd_parts
            .iter()
            .enumerate()
            .map(|(i, p)| ObjectContent {
                key: format!("part-{i:04}"),
                sha256: hex::encode(p.sha256),
                text: decompress(Compression::Zstd, &p.body).map_err(|e| e.to_string()),
            })
            .collect();
        let check = check_stream(&contents, StreamStart::Beginning, &BTreeMap::new());
        assert!(check.problems.is_empty(), "{:?}", check.problems);
        assert_eq!(check.last_seq, Some(20));
        // A cut frame is an error, not fewer lines: the frame's checksum and end are missing.
        let body = &zstd_parts[0].body;
        assert!(decompress(Compression::Zstd, &body[..body.len() - 4]).is_err());
        assert!(decompress(Compression::Gzip, body).is_err());
    }

    #[test]
    fn an_event_that_is_not_an_object_is_refused() {
        let mut e = PartEncoder::new(1 << 20, Compression::Gzip, 0, None);
        assert!(e.push("[1]", None).is_err());
    }
}
