//! Opaque page cursors.
//!
//! A cursor names the last event of a page by its position in the tenant's order
//! (`received_at`, then `id`; the pair is unique because `id` is unique per tenant). Every store
//! sorts by that pair, so "the events after this position" is well defined, and events that
//! arrive while a client pages carry later `received_at` values: they never shift the pages of
//! what existed when paging began.
//!
//! A cursor also carries the end its paging session was pinned to (`until`, exclusive): the
//! first page of a query reads the events received before the moment it was asked, and every
//! page after it stays within that bound. A paging session is therefore a snapshot, and it ends:
//! the events that arrive while it runs (the service's own records of each page read among
//! them, one per page) are for the next query, never an endless tail of this one.
//!
//! The cursor is `base64url(payload) "." base64url(tag)`, where the tag is an HMAC-SHA-256 (cut
//! to 128 bits) under a server secret. Clients cannot forge or edit one, and a cursor only works
//! for the tenant and the filters it was issued for.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::query::EventQuery;
use crate::time::Timestamp;

/// Where a page ended.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub received_at: Timestamp,
    pub id: String,
}

/// The server secret that signs cursors (32 random bytes, kept by the store or a setting).
#[derive(Clone)]
pub struct CursorKey([u8; 32]);

impl CursorKey {
    pub fn new(bytes: [u8; 32]) -> Self {
        CursorKey(bytes)
    }
}

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(..)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    #[error("cursor is not one this server issued, or it was altered")]
    Invalid,
    #[error("cursor was issued for different filters or order; repeat the original query with it")]
    QueryMismatch,
}

#[derive(Serialize, Deserialize)]
struct Payload {
    v: u8,
    t: String,
    q: String,
    r: i64,
    i: String,
    /// The session's pinned end (epoch ms, exclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    u: Option<i64>,
}

/// What a cursor says: where the last page ended, and the end its session is pinned to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub position: Position,
    pub until: Option<Timestamp>,
}

const TAG_BYTES: usize = 16;

fn tag(key: &CursorKey, payload: &[u8]) -> Result<[u8; TAG_BYTES], CursorError> {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(&key.0).map_err(|_| CursorError::Invalid)?;
    mac.update(payload);
    let full = mac.finalize().into_bytes();
    let mut out = [0u8; TAG_BYTES];
    out.copy_from_slice(&full[..TAG_BYTES]);
    Ok(out)
}

pub fn encode_cursor(key: &CursorKey, tenant: &str, query: &EventQuery, cursor: &Cursor) -> String {
    let payload = Payload {
        v: 1,
        t: tenant.to_string(),
        q: query.fingerprint(),
        r: cursor.position.received_at.0,
        i: cursor.position.id.clone(),
        u: cursor.until.map(|t| t.0),
    };
    let bytes = serde_json::to_vec(&payload).unwrap_or_default();
    let tag = tag(key, &bytes).unwrap_or([0; TAG_BYTES]);
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(&bytes),
        URL_SAFE_NO_PAD.encode(tag)
    )
}

pub fn decode_cursor(
    key: &CursorKey,
    tenant: &str,
    query: &EventQuery,
    text: &str,
) -> Result<Cursor, CursorError> {
    let (body, sig) = text.split_once('.').ok_or(CursorError::Invalid)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| CursorError::Invalid)?;
    let given = URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|_| CursorError::Invalid)?;
    let expected = tag(key, &bytes)?;
    if given.len() != TAG_BYTES
        || !bool::from(subtle::ConstantTimeEq::ct_eq(&given[..], &expected[..]))
    {
        return Err(CursorError::Invalid);
    }
    let payload: Payload = serde_json::from_slice(&bytes).map_err(|_| CursorError::Invalid)?;
    if payload.v != 1 || payload.t != tenant {
        return Err(CursorError::Invalid);
    }
    if payload.q != query.fingerprint() {
        return Err(CursorError::QueryMismatch);
    }
    Ok(Cursor {
        position: Position {
            received_at: Timestamp(payload.r),
            id: payload.i,
        },
        until: payload.u.map(Timestamp),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(b: u8) -> CursorKey {
        CursorKey::new([b; 32])
    }

    proptest! {
        #[test]
        fn round_trips(ms in 0i64..253_402_300_799_999, id in "[!-~]{1,128}", tenant in "[a-z0-9]{1,20}", until in proptest::option::of(0i64..253_402_300_799_999)) {
            let q = EventQuery::default();
            let cursor = Cursor { position: Position { received_at: Timestamp(ms), id }, until: until.map(Timestamp) };
            let text = encode_cursor(&key(1), &tenant, &q, &cursor);
            prop_assert_eq!(decode_cursor(&key(1), &tenant, &q, &text), Ok(cursor));
        }

        #[test]
        fn any_single_character_change_is_rejected(flip in 0usize..1000, with in "[A-Za-z0-9_.-]") {
            let q = EventQuery::default();
            let pos = Position { received_at: Timestamp(1_700_000_000_000), id: "01HX".into() };
            let text = encode_cursor(&key(1), "acme", &q, &Cursor { position: pos, until: Some(Timestamp(1_700_000_000_500)) });
            let at = flip % text.len();
            let mut tampered: Vec<char> = text.chars().collect();
            let replacement = with.chars().next().unwrap_or('A');
            prop_assume!(tampered[at] != replacement);
            tampered[at] = replacement;
            let tampered: String = tampered.into_iter().collect();
            prop_assert!(decode_cursor(&key(1), "acme", &q, &tampered).is_err());
        }
    }

    #[test]
    fn wrong_key_tenant_or_filters_are_rejected() {
        let q = EventQuery::default();
        let pos = Position {
            received_at: Timestamp(5),
            id: "a".into(),
        };
        let text = encode_cursor(
            &key(1),
            "acme",
            &q,
            &Cursor {
                position: pos,
                until: None,
            },
        );
        assert_eq!(
            decode_cursor(&key(2), "acme", &q, &text),
            Err(CursorError::Invalid)
        );
        assert_eq!(
            decode_cursor(&key(1), "other", &q, &text),
            Err(CursorError::Invalid)
        );
        let narrowed = EventQuery {
            actor_id: Some("x".into()),
            ..EventQuery::default()
        };
        assert_eq!(
            decode_cursor(&key(1), "acme", &narrowed, &text),
            Err(CursorError::QueryMismatch)
        );
        assert_eq!(
            decode_cursor(&key(1), "acme", &q, "garbage"),
            Err(CursorError::Invalid)
        );
        assert_eq!(
            decode_cursor(&key(1), "acme", &q, ""),
            Err(CursorError::Invalid)
        );
    }

    #[test]
    fn forged_payload_with_reused_tag_is_rejected() {
        let q = EventQuery::default();
        let text = encode_cursor(
            &key(1),
            "acme",
            &q,
            &Cursor {
                position: Position {
                    received_at: Timestamp(5),
                    id: "a".into(),
                },
                until: None,
            },
        );
        let (_, sig) = text.split_once('.').unwrap();
        let forged_body = URL_SAFE_NO_PAD.encode(format!(
            r#"{{"v":1,"t":"acme","q":"{}","r":0,"i":"a"}}"#,
            q.fingerprint()
        ));
        assert_eq!(
            decode_cursor(&key(1), "acme", &q, &format!("{forged_body}.{sig}")),
            Err(CursorError::Invalid)
        );
    }
}
