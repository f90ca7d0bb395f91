//! DynamoDB's hard limits, enforced here before a request is sent. DynamoDB Local and other
//! emulators do not always enforce them, and an error from AWS after the fact would be a worse
//! answer than a precise one from us.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

/// Largest item DynamoDB stores: 400 KB, attribute names included.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;

/// Room an event item needs beside its `body`: keys, the copied filter fields and the numbers.
/// Filter fields are bounded by validation: up to 64 target ids of 256 characters (64 KB in the
/// worst UTF-8 case), and a handful of 128-character fields, so 72 KB covers them.
pub const ITEM_OVERHEAD_BYTES: usize = 72 * 1024;

/// The largest `AUDITLOG_MAX_EVENT_BYTES` that fits in an item with its overhead.
pub const MAX_EVENT_BYTES: usize = MAX_ITEM_BYTES - ITEM_OVERHEAD_BYTES;
const _: () = assert!(MAX_EVENT_BYTES == 328 * 1024);

/// Most items a `Query` page may ask for before the 1 MB page limit applies anyway.
pub const MAX_QUERY_LIMIT: i32 = 1000;

/// Refuses an item DynamoDB would refuse on every retry, saying why and which setting to lower.
pub fn check_item_size(item: &HashMap<String, AttributeValue>) -> Result<(), ItemTooLarge> {
    let size = item_size(item);
    if size > MAX_ITEM_BYTES {
        return Err(ItemTooLarge { size });
    }
    Ok(())
}

/// An item over DynamoDB's limit: the text names the setting to lower.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "not stored: as a DynamoDB item the event is {size} bytes, over DynamoDB's \
     {MAX_ITEM_BYTES}-byte item limit; AUDITLOG_MAX_EVENT_BYTES must be at most {MAX_EVENT_BYTES}"
)]
pub struct ItemTooLarge {
    pub size: usize,
}

/// An item's size as DynamoDB counts it: the UTF-8 length of every attribute name plus its
/// value (strings by UTF-8 length, binaries by length, numbers by at most 21 bytes, sets and
/// lists by their members, with the small per-element overheads DynamoDB documents). It is an
/// upper bound for numbers, exact for the rest.
pub fn item_size(item: &HashMap<String, AttributeValue>) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => number_size(n),
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(items) => items.iter().map(String::len).sum(),
        AttributeValue::Ns(items) => items.iter().map(|n| number_size(n)).sum(),
        AttributeValue::Bs(items) => items.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::L(items) => 3 + items.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(k, v)| 1 + k.len() + value_size(v))
                .sum::<usize>()
        }
        // A variant added by a later SDK: count it as large as any number, the common case.
        _ => 21,
    }
}

/// Numbers take about one byte per two significant digits plus one, and never more than 21.
fn number_size(text: &str) -> usize {
    let digits = text.bytes().filter(u8::is_ascii_digit).count();
    (digits.div_ceil(2) + 1).min(21)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn strings_count_utf8_bytes_and_names_count_too() {
        let item = HashMap::from([
            ("pk".to_string(), AttributeValue::S("héllo".into())),
            ("n".to_string(), AttributeValue::N("12345".into())),
        ]);
        // "pk" 2 + "héllo" 6 + "n" 1 + 3 digits-worth (5 digits → 3 + 1 = 4).
        assert_eq!(item_size(&item), 2 + 6 + 1 + 4);
    }

    #[test]
    fn sets_sum_their_members() {
        let item = HashMap::from([(
            "t".to_string(),
            AttributeValue::Ss(vec!["ab".into(), "cde".into()]),
        )]);
        assert_eq!(item_size(&item), 1 + 5);
    }
}
