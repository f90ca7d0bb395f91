//! The DynamoDB key design, as pure functions (see `docs/dynamodb.md`).
//!
//! - Event item: `pk = E#{tenant}#{id}`, `sk = E`. Keyed by the idempotency key, so one
//!   conditional `PutItem` both stores the event and refuses a second one with the same id: no
//!   second item, no window between two writes.
//! - Index `by_time`: `tpk = T#{tenant}#{shard}`, `tsk = {received_at, 15 digits}#{id}`. A
//!   tenant's events spread over `shards` partitions (chosen by a hash of the id), so one busy
//!   tenant is not held to one partition's write rate; a time-ordered read queries every shard
//!   and merges the pages in order.

use auditlog_core::Timestamp;
use auditlog_core::cursor::Position;
use auditlog_core::query::{EventQuery, Order};
use auditlog_core::store::StoredEvent;

pub const EVENT_SK: &str = "E";
pub const META_SK: &str = "M";
pub const CURSOR_SECRET_PK: &str = "M#cursor_secret";
pub const TIME_INDEX: &str = "by_time";
/// The keys table's index of each tenant's keys (`tenant` hash key, `key_id` range key).
pub const TENANT_INDEX: &str = "by_tenant";
/// The attribute DynamoDB's TTL watches (epoch seconds).
pub const TTL_ATTRIBUTE: &str = "expires_at";
/// The event's receipt (hex SHA-256), computed at ingest and copied into its export line. Absent
/// on events stored before it was kept: the exporter computes theirs.
pub const RECEIPT_ATTRIBUTE: &str = "sha256";
pub const DEFAULT_SHARDS: u16 = 4;

pub fn event_key(tenant: &str, id: &str) -> String {
    format!("E#{tenant}#{id}")
}

pub fn shard_key(tenant: &str, shard: u16) -> String {
    format!("T#{tenant}#{shard:02}")
}

/// FNV-1a of the id: stable across processes and versions (unlike std's `Hash`).
pub fn shard_of(id: &str, shards: u16) -> u16 {
    let mut hash: u32 = 0x811c_9dc5;
    for b in id.bytes() {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    (hash % u32::from(shards.max(1))) as u16
}

/// Sorts as (`received_at`, `id`): the timestamp is fixed-width, so string order is time
/// order, and the `#` sits at the same place in every key.
pub fn time_key(received_at: Timestamp, id: &str) -> String {
    format!("{:015}#{id}", received_at.0.max(0))
}

/// Seconds for the TTL attribute, rounded up so DynamoDB never deletes before expiry.
pub fn ttl_seconds(expires_at: Timestamp) -> i64 {
    expires_at.0.div_euclid(1000) + i64::from(expires_at.0.rem_euclid(1000) != 0)
}

/// The inclusive `BETWEEN` range of `tsk` for a query, and the one key to drop (the cursor's
/// own event, which `BETWEEN` includes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounds {
    pub low: String,
    pub high: String,
    pub exclude: Option<String>,
}

/// Lower than every time key / higher than every time key.
const LOWEST: &str = "0";
const HIGHEST: &str = "~";

impl Bounds {
    pub fn new(query: &EventQuery, after: Option<&Position>) -> Bounds {
        // `from` inclusive: "{from}#" is below every key at that millisecond.
        let mut low = query
            .from
            .map(|t| format!("{:015}#", t.0))
            .unwrap_or_else(|| LOWEST.into());
        // `to` exclusive: every key at that millisecond is above "{to}#" (ids are not empty).
        let mut high = query
            .to
            .map(|t| format!("{:015}#", t.0))
            .unwrap_or_else(|| HIGHEST.into());
        let mut exclude = None;
        if let Some(p) = after {
            let key = time_key(p.received_at, &p.id);
            match query.order {
                Order::Asc if key > low => low = key.clone(),
                Order::Desc if key < high => high = key.clone(),
                _ => {}
            }
            exclude = Some(key);
        }
        Bounds { low, high, exclude }
    }
}

/// One shard's matching events, in the query's order.
#[derive(Debug, Default)]
pub struct ShardPage {
    pub items: Vec<StoredEvent>,
}

/// Merges shard pages (each already in `order`) into the first `take` events overall.
pub fn merge_pages(pages: Vec<ShardPage>, order: Order, take: usize) -> Vec<StoredEvent> {
    let mut all: Vec<StoredEvent> = pages.into_iter().flat_map(|p| p.items).collect();
    // Each page holds at most `take` items, so sorting the union is as cheap as a heap merge
    // at these sizes and simpler to get right.
    match order {
        Order::Asc => all.sort_by(|a, b| a.position.cmp(&b.position)),
        Order::Desc => all.sort_by(|a, b| b.position.cmp(&a.position)),
    }
    all.truncate(take);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(ms: i64, id: &str) -> StoredEvent {
        StoredEvent {
            position: Position {
                received_at: Timestamp(ms),
                id: id.into(),
            },
            json: String::new(),
            receipt: None,
        }
    }

    #[test]
    fn time_keys_sort_like_positions() {
        let mut positions = [
            (5, "b"),
            (5, "a"),
            (40, "a"),
            (1_000_000_000_000, "!"),
            (5, "~x"),
            (5, "#"),
        ];
        let mut keys: Vec<String> = positions
            .iter()
            .map(|(t, i)| time_key(Timestamp(*t), i))
            .collect();
        positions.sort();
        keys.sort();
        let expected: Vec<String> = positions
            .iter()
            .map(|(t, i)| time_key(Timestamp(*t), i))
            .collect();
        assert_eq!(keys, expected);
    }

    #[test]
    fn shards_are_stable_and_spread() {
        assert_eq!(shard_of("evt-1", 4), shard_of("evt-1", 4));
        let mut counts = [0u32; 4];
        for i in 0..4000 {
            counts[usize::from(shard_of(&format!("{i:08}"), 4))] += 1;
        }
        assert!(counts.iter().all(|c| (800..1200).contains(c)), "{counts:?}");
        assert_eq!(shard_of("x", 1), 0);
    }

    #[test]
    fn ttl_rounds_up_to_whole_seconds() {
        assert_eq!(ttl_seconds(Timestamp(1_000)), 1);
        assert_eq!(ttl_seconds(Timestamp(1_001)), 2);
        assert_eq!(ttl_seconds(Timestamp(0)), 0);
    }

    #[test]
    fn bounds_cover_range_and_cursor() {
        let q = EventQuery {
            from: Some(Timestamp(10)),
            to: Some(Timestamp(20)),
            ..EventQuery::default()
        };
        let b = Bounds::new(&q, None);
        let inside = [time_key(Timestamp(10), "a"), time_key(Timestamp(19), "~")];
        let outside = [time_key(Timestamp(9), "~"), time_key(Timestamp(20), "!")];
        for k in &inside {
            assert!(b.low <= *k && *k <= b.high, "{k}");
        }
        for k in &outside {
            assert!(!(b.low <= *k && *k <= b.high), "{k}");
        }
        let after = Position {
            received_at: Timestamp(15),
            id: "m".into(),
        };
        let b = Bounds::new(&q, Some(&after));
        assert_eq!(b.low, time_key(Timestamp(15), "m"));
        assert_eq!(b.exclude.as_deref(), Some(b.low.as_str()));
        let desc = EventQuery {
            order: Order::Desc,
            ..q
        };
        let b = Bounds::new(&desc, Some(&after));
        assert_eq!(b.high, time_key(Timestamp(15), "m"));
    }

    #[test]
    fn merge_orders_across_shards_and_takes_the_first() {
        let pages = vec![
            ShardPage {
                items: vec![ev(1, "a"), ev(4, "d")],
            },
            ShardPage {
                items: vec![ev(2, "b"), ev(3, "c")],
            },
        ];
        let ids: Vec<String> = merge_pages(pages, Order::Asc, 3)
            .into_iter()
            .map(|e| e.position.id)
            .collect();
        assert_eq!(ids, ["a", "b", "c"]);
        let pages = vec![
            ShardPage {
                items: vec![ev(4, "d"), ev(1, "a")],
            },
            ShardPage {
                items: vec![ev(3, "c")],
            },
        ];
        let ids: Vec<String> = merge_pages(pages, Order::Desc, 5)
            .into_iter()
            .map(|e| e.position.id)
            .collect();
        assert_eq!(ids, ["d", "c", "a"]);
    }
}
