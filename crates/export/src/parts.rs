//! Streaming encoding of a window into parts: NDJSON lines into a gzip stream, a new part once
//! the uncompressed size would pass the limit. Only the current part is in memory.

use std::io::Write as _;

use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

/// A finished part: compressed bytes and what they hold.
#[derive(Debug, Clone)]
pub struct Part {
    pub body: Vec<u8>,
    pub sha256: [u8; 32],
    pub events: u64,
    pub uncompressed_bytes: u64,
}

pub struct PartEncoder {
    max_uncompressed: usize,
    level: Compression,
    current: Option<GzEncoder<Vec<u8>>>,
    events: u64,
    bytes: usize,
}

impl PartEncoder {
    pub fn new(max_uncompressed: usize) -> Self {
        PartEncoder {
            max_uncompressed: max_uncompressed.max(1),
            level: Compression::default(),
            current: None,
            events: 0,
            bytes: 0,
        }
    }

    /// Adds one event line; returns the finished part when this line does not fit beside the
    /// ones before it (the line then starts the next part).
    pub fn push(&mut self, line: &str) -> Option<Part> {
        let finished = if self.events > 0 && self.bytes + line.len() + 1 > self.max_uncompressed {
            self.finish()
        } else {
            None
        };
        let level = self.level;
        let encoder = self
            .current
            .get_or_insert_with(|| GzEncoder::new(Vec::new(), level));
        // Writing into a Vec cannot fail.
        let _ = encoder.write_all(line.as_bytes());
        let _ = encoder.write_all(b"\n");
        self.events += 1;
        self.bytes += line.len() + 1;
        finished
    }

    /// The last part, if any line is pending.
    pub fn finish(&mut self) -> Option<Part> {
        let encoder = self.current.take()?;
        let body = encoder.finish().unwrap_or_default();
        let part = Part {
            sha256: Sha256::digest(&body).into(),
            body,
            events: self.events,
            uncompressed_bytes: self.bytes as u64,
        };
        self.events = 0;
        self.bytes = 0;
        Some(part)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::io::Read as _;

    use super::*;

    fn gunzip(body: &[u8]) -> String {
        let mut text = String::new();
        flate2::read::GzDecoder::new(body)
            .read_to_string(&mut text)
            .unwrap();
        text
    }

    #[test]
    fn lines_split_into_parts_past_the_limit_and_nothing_is_lost() {
        let mut encoder = PartEncoder::new(100);
        let mut parts = Vec::new();
        for i in 0..20 {
            parts.extend(encoder.push(&format!("{{\"n\":{i:02},\"pad\":\"xxxxxxxxxx\"}}")));
        }
        parts.extend(encoder.finish());
        assert!(parts.len() > 1);
        let all: String = parts.iter().map(|p| gunzip(&p.body)).collect();
        let expected: String = (0..20)
            .map(|i| format!("{{\"n\":{i:02},\"pad\":\"xxxxxxxxxx\"}}\n"))
            .collect();
        assert_eq!(all, expected);
        for p in &parts {
            assert!(p.uncompressed_bytes <= 100);
        }
        assert_eq!(parts.iter().map(|p| p.events).sum::<u64>(), 20);
    }

    #[test]
    fn the_same_lines_give_the_same_bytes() {
        let encode = || {
            let mut e = PartEncoder::new(1 << 20);
            e.push("{\"a\":1}");
            e.push("{\"b\":2}");
            e.finish().unwrap()
        };
        assert_eq!(encode().body, encode().body, "gzip output is deterministic");
    }
}
