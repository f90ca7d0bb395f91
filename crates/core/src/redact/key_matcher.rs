//! Whether a key contains a pattern once normalized, in one pass over the key's bytes.
//!
//! Every key of every event's `metadata` and `request.params` is checked, at every depth, so
//! this is on ingest's hot path. An Aho-Corasick automaton over the normalized alphabet (a-z
//! and 0-9, upper case read as lower case, every other byte skipped, which is what
//! [`super::normalize_key`] does) reads each byte once with one table lookup, instead of
//! normalizing into a buffer and comparing every pattern at every position.

use std::collections::VecDeque;

/// a-z, then 0-9.
const SYMBOLS: usize = 36;
/// What [`SYMBOL`] gives a byte normalization drops.
const SKIP: u8 = u8::MAX;

/// The symbol of each byte: its letter (either case) or digit, else [`SKIP`]. Bytes of
/// multi-byte UTF-8 characters are all 0x80 or above, so they are skipped as whole characters
/// are by normalization.
const SYMBOL: [u8; 256] = {
    let mut table = [SKIP; 256];
    let mut b = 0;
    while b < 26 {
        table[b'a' as usize + b] = b as u8;
        table[b'A' as usize + b] = b as u8;
        b += 1;
    }
    let mut d = 0;
    while d < 10 {
        table[b'0' as usize + d] = 26 + d as u8;
        d += 1;
    }
    table
};

/// The automaton as a complete transition table over bytes: state `s` on byte `b` goes to
/// `next[s * 256 + b]` (a byte normalization drops leaves the state as it is). A state is
/// accepting when a pattern ends there, or at the end of any of its suffixes; accepting states
/// keep to themselves, so a key is read to its end with one load per byte and no branch, and
/// its last state tells.
#[derive(Debug, Clone)]
pub(super) struct KeyMatcher {
    next: Vec<u32>,
    accepting: Vec<bool>,
}

impl KeyMatcher {
    /// `patterns` are already normalized; any other byte in them is skipped, and a pattern
    /// with no symbol at all is left out (it would match every key).
    pub(super) fn new<S: AsRef<str>>(patterns: &[S]) -> KeyMatcher {
        const NONE: u32 = u32::MAX;
        // The trie of the patterns.
        let mut next = vec![NONE; SYMBOLS];
        let mut accepting = vec![false];
        for pattern in patterns {
            let mut state = 0;
            let mut symbols = 0;
            for c in pattern.as_ref().bytes().map(|b| SYMBOL[usize::from(b)]) {
                if c == SKIP {
                    continue;
                }
                let slot = state * SYMBOLS + usize::from(c);
                if next[slot] == NONE {
                    next[slot] = accepting.len() as u32;
                    accepting.push(false);
                    next.extend([NONE; SYMBOLS]);
                }
                state = next[slot] as usize;
                symbols += 1;
            }
            if symbols > 0 {
                accepting[state] = true;
            }
        }
        // Failure links, breadth first, folded into the table so that every state has a
        // move on every symbol.
        let mut fail = vec![0usize; accepting.len()];
        let mut queue = VecDeque::new();
        for slot in next.iter_mut().take(SYMBOLS) {
            if *slot == NONE {
                *slot = 0;
            } else {
                queue.push_back(*slot as usize);
            }
        }
        while let Some(state) = queue.pop_front() {
            // `fail[state]` is shallower, so already final.
            accepting[state] |= accepting[fail[state]];
            for c in 0..SYMBOLS {
                let slot = state * SYMBOLS + c;
                let on_fail = next[fail[state] * SYMBOLS + c];
                if next[slot] == NONE {
                    next[slot] = on_fail;
                } else {
                    let child = next[slot] as usize;
                    fail[child] = on_fail as usize;
                    queue.push_back(child);
                }
            }
        }
        // Over bytes, with accepting states absorbing.
        let mut by_byte = Vec::with_capacity(accepting.len() * 256);
        for (state, &accepts) in accepting.iter().enumerate() {
            by_byte.extend((0..256).map(|b| match SYMBOL[b] {
                _ if accepts => state as u32,
                SKIP => state as u32,
                c => next[state * SYMBOLS + usize::from(c)],
            }));
        }
        KeyMatcher {
            next: by_byte,
            accepting,
        }
    }

    /// Whether the normalized form of `key` contains a pattern.
    #[inline]
    pub(super) fn matches(&self, key: &str) -> bool {
        let mut state = 0usize;
        for &b in key.as_bytes() {
            state = self.next[state * 256 + usize::from(b)] as usize;
        }
        self.accepting[state]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The automaton says what "the normalized key contains a pattern" says.
        #[test]
        fn agrees_with_normalize_and_contains(
            patterns in prop::collection::vec("[a-e0-2]{1,4}", 1..5),
            key in "[a-eA-E0-2_ -]{0,16}|\\PC{0,12}",
        ) {
            let normalized = crate::redact::normalize_key(&key);
            let expected = patterns.iter().any(|p| normalized.contains(p.as_str()));
            prop_assert_eq!(KeyMatcher::new(&patterns).matches(&key), expected);
        }
    }

    #[test]
    fn overlapping_patterns_are_found_through_failure_links() {
        let m = KeyMatcher::new(&["abcd", "bc", "cde"]);
        assert!(m.matches("xbcx"));
        assert!(m.matches("ab-c-dX"));
        assert!(m.matches("abcde"));
        assert!(m.matches("A-B-C"));
        assert!(!m.matches("abdc"));
        assert!(!KeyMatcher::new(&["", "--"]).matches("anything"));
    }
}
