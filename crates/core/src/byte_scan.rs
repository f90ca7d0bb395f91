//! Two questions asked of every string of every ingested event: does it need a JSON escape,
//! and is it all printable ASCII. The strings are short (ids, names, actions: a dozen bytes),
//! where a byte-by-byte loop is all tail and no vector body; these test eight bytes at a time
//! in a `u64` (the SWAR tests of "Bit Twiddling Hacks": `has_less`, `has_zero`), without an
//! early exit, the last eight bytes overlapping the ones before.

const LOW: u64 = u64::from_le_bytes([0x01; 8]);
const HIGH: u64 = u64::from_le_bytes([0x80; 8]);

/// The high bit of each byte of `x` below `n` (for `n` up to 128) is set in the result, and no
/// other byte is set unless one before it was: enough for "any byte below `n`".
#[inline(always)]
fn below(x: u64, n: u8) -> u64 {
    x.wrapping_sub(LOW * u64::from(n)) & !x & HIGH
}

/// Likewise for bytes equal to `b`.
#[inline(always)]
fn equal(x: u64, b: u8) -> u64 {
    below(x ^ (LOW * u64::from(b)), 1)
}

/// Likewise for bytes above `n` (for `n` below 128).
#[inline(always)]
fn above(x: u64, n: u8) -> u64 {
    (x.wrapping_add(LOW * u64::from(127 - n)) | x) & HIGH
}

/// Eight bytes as one little-endian word: the first byte in memory is the lowest.
#[inline(always)]
fn word(chunk: &[u8]) -> u64 {
    let mut eight = [0u8; 8];
    eight.copy_from_slice(chunk);
    u64::from_le_bytes(eight)
}

/// The JSON escape test, on a word and on one byte: `"`, `\` or a control character.
#[inline(always)]
fn escape_flags(x: u64) -> u64 {
    below(x, 0x20) | equal(x, b'"') | equal(x, b'\\')
}

#[inline(always)]
fn is_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Whether `test` flags any 8-byte window of `bytes`; `byte` answers for strings shorter
/// than eight bytes.
#[inline(always)]
fn any_flagged(bytes: &[u8], test: impl Fn(u64) -> u64, byte: impl Fn(u8) -> bool) -> bool {
    if bytes.len() < 8 {
        let mut found = false;
        for &b in bytes {
            found |= byte(b);
        }
        return found;
    }
    let mut found = 0;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        found |= test(word(chunk));
    }
    if !chunks.remainder().is_empty() {
        found |= test(word(&bytes[bytes.len() - 8..]));
    }
    found != 0
}

/// Whether any byte must be escaped in a JSON string: `"`, `\` or a control character.
#[inline]
pub(crate) fn needs_json_escape(bytes: &[u8]) -> bool {
    any_flagged(bytes, escape_flags, is_escape)
}

/// The index of the first byte that must be escaped in a JSON string, if any. Each test above
/// flags its first matching byte exactly (a false flag only ever follows a true one, in a higher
/// byte, which is later in memory), so the lowest flag of a word is the answer.
#[inline]
pub(crate) fn first_json_escape(bytes: &[u8]) -> Option<usize> {
    let mut chunks = bytes.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let flags = escape_flags(word(chunk));
        if flags != 0 {
            return Some(at + (flags.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    let tail = chunks.remainder();
    tail.iter().position(|&b| is_escape(b)).map(|i| at + i)
}

/// Whether every byte is ASCII from `low` (at most 0x7e) up to `~`: DEL and all non-ASCII out.
#[inline]
pub(crate) fn all_ascii_from(bytes: &[u8], low: u8) -> bool {
    !any_flagged(
        bytes,
        |x| below(x, low) | above(x, 0x7e),
        |b| !(low..0x7f).contains(&b),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn agree_with_the_byte_by_byte_rules(
            bytes in prop::collection::vec(any::<u8>(), 0..40),
            special in prop::collection::vec(
                prop::sample::select(vec![0u8, 0x1f, 0x20, 0x21, b'"', b'\\', 0x7e, 0x7f, 0x80, 0xff, b'a']),
                0..20,
            ),
        ) {
            for bytes in [&bytes, &special] {
                prop_assert_eq!(
                    needs_json_escape(bytes),
                    bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\')
                );
                prop_assert_eq!(
                    first_json_escape(bytes),
                    bytes.iter().position(|&b| b < 0x20 || b == b'"' || b == b'\\')
                );
                for low in [0x20, 0x21] {
                    prop_assert_eq!(
                        all_ascii_from(bytes, low),
                        bytes.iter().all(|&b| (low..0x7f).contains(&b))
                    );
                }
            }
        }
    }

    #[test]
    fn every_byte_in_every_position() {
        for len in [1usize, 7, 8, 9, 16, 17] {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = b;
                    let escape = b < 0x20 || b == b'"' || b == b'\\';
                    assert_eq!(needs_json_escape(&bytes), escape);
                    assert_eq!(first_json_escape(&bytes), escape.then_some(at));
                    assert_eq!(all_ascii_from(&bytes, 0x21), (0x21..0x7f).contains(&b));
                }
            }
        }
    }
}
