//! The rules of the typed string fields, shared by the walker and the typed fast path
//! (`crate::wire`).

use std::net::IpAddr;

use super::Rule;

/// Why a typed string field was refused. The text is the reason a [`super::FieldError`] gives
/// beside the field's pointer; quoted input is clipped to 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("must not be empty (omit the field instead)")]
    Empty,
    #[error("is {chars} characters long; at most {max} are allowed")]
    TooLong { chars: usize, max: usize },
    #[error("must not contain control characters")]
    Control,
    #[error("may hold only printable ASCII characters without spaces")]
    NotPrintable,
    #[error(
        "`{0}` must be a dotted lowercase name such as `user.login`: two or more segments of a-z, 0-9, `_` or `-`, joined by dots, starting with a letter"
    )]
    Action(String),
    #[error(
        "`{0}` is in the reserved `auditlog.` namespace: the service records those events itself"
    )]
    ReservedAction(String),
    #[error("`{0}` is not an email address")]
    Email(String),
    #[error("`{0}` is not an IPv4 or IPv6 address")]
    IpAddress(String),
}

/// The rules every typed string field follows: not empty, at most `max_chars` characters, and
/// its own `rule`. Shared by the `Value` walker and the typed fast path (`crate::wire`).
pub(crate) fn check_text(text: &str, max_chars: usize, rule: Rule) -> Result<(), RuleError> {
    if text.is_empty() {
        return Err(RuleError::Empty);
    }
    // Byte length bounds the character count from above, so most strings skip the count.
    if text.len() > max_chars {
        let chars = text.chars().count();
        if chars > max_chars {
            return Err(RuleError::TooLong {
                chars,
                max: max_chars,
            });
        }
    }
    check_rule(rule, text)
}

/// Whether every byte of `text` is ASCII from `low` up to `~` (DEL and above are out): every
/// string of every event passes through here.
#[inline]
fn all_bytes_in(text: &str, low: u8) -> bool {
    crate::byte_scan::all_ascii_from(text.as_bytes(), low)
}

pub(super) fn check_rule(rule: Rule, text: &str) -> Result<(), RuleError> {
    match rule {
        Rule::Text => {
            // ASCII fast path: only bytes below 0x20, DEL, or any non-ASCII need the char check.
            if !all_bytes_in(text, 0x20) && text.chars().any(char::is_control) {
                return Err(RuleError::Control);
            }
        }
        Rule::IdempotencyKey => {
            if !all_bytes_in(text, 0x21) {
                return Err(RuleError::NotPrintable);
            }
        }
        Rule::Action => check_action(text)?,
        Rule::Email => {
            // One `@`, with something on both sides, and no space or control character.
            let ats = text.bytes().filter(|&b| b == b'@').count();
            let ok = ats == 1
                && !text.starts_with('@')
                && !text.ends_with('@')
                && (all_bytes_in(text, 0x21)
                    || !text.chars().any(|c| c.is_whitespace() || c.is_control()));
            if !ok {
                return Err(RuleError::Email(clip(text)));
            }
        }
        Rule::IpAddress => {
            if text.parse::<IpAddr>().is_err() {
                return Err(RuleError::IpAddress(clip(text)));
            }
        }
    }
    Ok(())
}

/// The namespace of the events the service records about itself (who read the log, who changed
/// its keys and destinations): no client may write into it, so those events cannot be forged.
pub const RESERVED_ACTION_PREFIX: &str = "auditlog.";

/// `user.login`, `project.release`, `git.commit`: two or more dot-separated segments of lowercase
/// ASCII letters, digits, `_` and `-`, the first starting with a letter, outside the reserved
/// `auditlog.` namespace.
pub fn check_action(text: &str) -> Result<(), RuleError> {
    // One pass over the bytes: allowed bytes, no empty segment (no leading, doubled or
    // trailing dot: the first byte must be a letter), at least one dot.
    const fn classes() -> [u8; 256] {
        // 1: a-z, 0-9, `_`, `-`; 2: `.`; 0: anything else.
        let mut table = [0u8; 256];
        let mut b = 0;
        while b < 256 {
            table[b] = match b as u8 {
                b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' => 1,
                b'.' => 2,
                _ => 0,
            };
            b += 1;
        }
        table
    }
    const CLASS: [u8; 256] = classes();
    let bytes = text.as_bytes();
    let mut ok = bytes.first().is_some_and(u8::is_ascii_lowercase) && !text.ends_with('.');
    let (mut dots, mut previous) = (0usize, 0u8);
    for &b in bytes {
        let class = CLASS[usize::from(b)];
        ok &= class != 0 && !(class == 2 && previous == 2);
        dots += usize::from(class == 2);
        previous = class;
    }
    if !ok || dots == 0 {
        return Err(RuleError::Action(clip(text)));
    }
    if text.starts_with(RESERVED_ACTION_PREFIX) {
        return Err(RuleError::ReservedAction(clip(text)));
    }
    Ok(())
}

/// Quotes of user input in messages are cut, so an error never echoes a huge value.
pub(super) fn clip(text: &str) -> String {
    const MAX: usize = 64;
    if text.chars().count() <= MAX {
        text.to_string()
    } else {
        let mut cut: String = text.chars().take(MAX).collect();
        cut.push('…');
        cut
    }
}
