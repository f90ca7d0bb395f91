//! Elasticsearch and OpenSearch `_bulk`: NDJSON of `{"create": {"_index", "_id"}}` and the
//! document, the event id as `_id`, so a batch sent again never indexes an event twice (the
//! second `create` answers 409, which means it is there). The answer has one result per item,
//! read one by one: some may need sending again while the rest arrived.

use serde::Deserialize;
use serde_json::json;

use super::batch::{BatchLimits, Record};
use super::verdict::{Verdict, from_status};

/// Within Elasticsearch's advice for bulk requests (a few MB) and far from the 100 MB
/// `http.max_content_length` default.
pub const LIMITS: BatchLimits = BatchLimits {
    max_records: 1000,
    max_bytes: 5_000_000,
};

/// An index name Elasticsearch would refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "must be an Elasticsearch index name: lowercase, at most 255 bytes, without \
     spaces or any of \\ / * ? \" < > | , # :, not starting with -, _ or +"
)]
pub struct IndexNameError;

/// An index name Elasticsearch accepts: lowercase, at most 255 bytes, none of `\ / * ? " < > |`,
/// space, comma or `#`, not starting with `-`, `_` or `+`, not `.` or `..`.
pub fn check_index(name: &str) -> Result<(), IndexNameError> {
    let bad = name.is_empty()
        || name.len() > 255
        || name == "."
        || name == ".."
        || name.starts_with(['-', '_', '+'])
        || name
            .chars()
            .any(|c| c.is_uppercase() || c.is_control() || "\\/*?\"<>| ,#:".contains(c));
    if bad { Err(IndexNameError) } else { Ok(()) }
}

pub fn body(records: &[Record], index: &str) -> Vec<u8> {
    let mut body = Vec::new();
    for record in records {
        let action = json!({"create": {"_index": index, "_id": record.id}});
        body.extend_from_slice(action.to_string().as_bytes());
        body.push(b'\n');
        body.extend_from_slice(record.json.as_bytes());
        body.push(b'\n');
    }
    body
}

#[derive(Deserialize)]
struct BulkAnswer {
    errors: bool,
    items: Vec<serde_json::Map<String, serde_json::Value>>,
}

/// The answer, item by item: created (or already there: 409) is delivered; 429 and 5xx are
/// sent again; anything else (a mapping that refuses the document, a closed index) stops the
/// stream with the first such reason, since sending it again would fail the same way.
pub fn verdict(
    status: u16,
    answer: &[u8],
    sent: usize,
    retry_after: Option<&str>,
    now_ms: i64,
) -> Verdict {
    if !(200..300).contains(&status) {
        return from_status(status, retry_after, now_ms);
    }
    let Ok(parsed) = serde_json::from_slice::<BulkAnswer>(answer) else {
        return Verdict::Retry {
            after: None,
            reason: "the _bulk answer could not be read; the batch is sent again (`create` with the event ids makes that safe)".into(),
        };
    };
    if parsed.items.len() != sent {
        return Verdict::Retry {
            after: None,
            reason: format!(
                "the _bulk answer has {} results for {sent} items",
                parsed.items.len()
            ),
        };
    }
    if !parsed.errors {
        return Verdict::Delivered;
    }
    let mut retry = Vec::new();
    for (i, item) in parsed.items.iter().enumerate() {
        let result = item.values().next();
        let item_status = result
            .and_then(|r| r.get("status"))
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        match item_status {
            200 | 201 | 409 => {}
            429 | 500..=599 => retry.push(i),
            _ => {
                let error = result.and_then(|r| r.get("error"));
                let kind = error
                    .and_then(|e| e.get("type"))
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("unknown");
                let reason: String = error
                    .and_then(|e| e.get("reason"))
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("")
                    .chars()
                    .take(300)
                    .collect();
                return Verdict::stop(
                    format!("_bulk refused a document ({item_status} {kind}): {reason}"),
                    "the index's mapping does not accept the destination's format: use an index \
                     whose mapping fits (or none, for dynamic mapping), or change the format",
                );
            }
        }
    }
    if retry.is_empty() {
        Verdict::Delivered
    } else {
        Verdict::Partial { retry }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Timestamp;

    fn record(id: &str) -> Record {
        Record {
            id: id.into(),
            occurred_at: Timestamp(0),
            service: None,
            json: format!("{{\"event\":{{\"id\":\"{id}\"}}}}"),
        }
    }

    #[test]
    fn create_with_the_event_id() {
        let body =
            String::from_utf8(body(&[record("a"), record("b")], "audit")).unwrap_or_default();
        let lines: Vec<&str> = body.lines().collect();
        assert_eq!(lines.len(), 4);
        let action: serde_json::Value = serde_json::from_str(lines[0]).unwrap_or_default();
        assert_eq!(action, json!({"create": {"_index": "audit", "_id": "a"}}));
        assert_eq!(lines[1], r#"{"event":{"id":"a"}}"#);
        assert!(body.ends_with('\n'));
    }

    #[test]
    fn index_names() {
        assert!(check_index("auditlog-events").is_ok());
        for bad in [
            "",
            "Audit",
            "a b",
            "a/b",
            "_x",
            "..",
            "a,b",
            "a#b",
            &"x".repeat(256),
        ] {
            assert!(check_index(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn per_item_results() {
        let ok = br#"{"took":3,"errors":false,"items":[{"create":{"status":201}},{"create":{"status":201}}]}"#;
        assert_eq!(verdict(200, ok, 2, None, 0), Verdict::Delivered);
        let repeat = br#"{"errors":true,"items":[{"create":{"status":409,"error":{"type":"version_conflict_engine_exception"}}},{"create":{"status":201}}]}"#;
        assert_eq!(
            verdict(200, repeat, 2, None, 0),
            Verdict::Delivered,
            "409: already indexed"
        );
        let partial = br#"{"errors":true,"items":[{"create":{"status":201}},{"create":{"status":429,"error":{"type":"es_rejected_execution_exception"}}},{"create":{"status":503}}]}"#;
        assert_eq!(
            verdict(200, partial, 3, None, 0),
            Verdict::Partial { retry: vec![1, 2] }
        );
        let mapping = br#"{"errors":true,"items":[{"create":{"status":201}},{"create":{"status":400,"error":{"type":"mapper_parsing_exception","reason":"failed to parse field [event.duration]"}}}]}"#;
        match verdict(200, mapping, 2, None, 0) {
            Verdict::Stop { error, .. } => {
                assert!(error.contains("mapper_parsing_exception"), "{error}")
            }
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(verdict(200, ok, 3, None, 0), Verdict::Retry { .. }),
            "a result missing"
        );
        assert!(matches!(
            verdict(200, b"garbage", 2, None, 0),
            Verdict::Retry { .. }
        ));
        assert!(matches!(
            verdict(401, b"", 2, None, 0),
            Verdict::Stop { .. }
        ));
        assert!(matches!(
            verdict(429, b"", 2, Some("2"), 0),
            Verdict::Retry { after: Some(_), .. }
        ));
    }
}
