//! Splunk HTTP Event Collector: `POST /services/collector/event` with `Authorization: Splunk
//! <token>`, a body of event envelopes one after another (`{"time", "host", "source",
//! "sourcetype", "index", "event"}`), and an answer `{"text", "code"}` whose code says what went
//! wrong (Splunk's "Troubleshoot HTTP Event Collector" table).

use serde::{Deserialize, Serialize};

use super::batch::{BatchLimits, Record};
use super::verdict::{Verdict, from_status};

/// Requests stay under Splunk Cloud's 1 MB HEC request limit (Splunk Enterprise allows more).
pub const LIMITS: BatchLimits = BatchLimits {
    max_records: 1000,
    max_bytes: 1_000_000,
};

/// A destination's HEC settings (the token is a secret reference, held apart).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HecSettings {
    /// The index; absent: the token's default index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<String>,
    #[serde(default = "default_source")]
    pub source: String,
    /// Absent: `auditlog:v1`, `auditlog:ocsf` or `auditlog:ecs` by the destination's format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sourcetype: Option<String>,
}

fn default_source() -> String {
    "auditlog".into()
}

/// One envelope per record, newline-separated (HEC reads concatenated objects); `host` is the
/// event's source service, `time` its occurrence in seconds with milliseconds.
pub fn body(records: &[Record], settings: &HecSettings, sourcetype: &str) -> Vec<u8> {
    let mut body = Vec::new();
    for record in records {
        let mut envelope = serde_json::json!({
            "time": record.occurred_at.0 as f64 / 1000.0,
            "source": settings.source,
            "sourcetype": settings.sourcetype.as_deref().unwrap_or(sourcetype),
        });
        if let Some(index) = &settings.index {
            envelope["index"] = serde_json::json!(index);
        }
        if let Some(service) = &record.service {
            envelope["host"] = serde_json::json!(service);
        }
        // The record goes in as it is, spliced: it is one JSON object already.
        let head = serde_json::to_string(&envelope).unwrap_or_default();
        body.extend_from_slice(&head.as_bytes()[..head.len().saturating_sub(1)]);
        body.extend_from_slice(b",\"event\":");
        body.extend_from_slice(record.json.as_bytes());
        body.extend_from_slice(b"}\n");
    }
    body
}

#[derive(Deserialize)]
struct HecAnswer {
    code: Option<u32>,
    text: Option<String>,
}

/// HEC's answer: its `code` refines the HTTP status.
pub fn verdict(status: u16, answer: &[u8], retry_after: Option<&str>, now_ms: i64) -> Verdict {
    let parsed: Option<HecAnswer> = serde_json::from_slice(answer).ok();
    let text = parsed
        .as_ref()
        .and_then(|a| a.text.clone())
        .unwrap_or_default();
    let code = parsed.and_then(|a| a.code);
    match code {
        Some(0) if (200..300).contains(&status) => Verdict::Delivered,
        Some(1) => Verdict::stop(
            "HEC: the token is disabled",
            "enable the token in Splunk, or give the destination another",
        ),
        Some(2 | 3) => Verdict::stop(
            format!("HEC: {text}"),
            "the token is sent as `Authorization: Splunk <token>`: check the secret reference holds the bare token",
        ),
        Some(4) => Verdict::stop(
            "HEC: the token is not valid",
            "check the token in Splunk and the destination's secret reference",
        ),
        Some(7) => Verdict::stop(
            "HEC: the index is not allowed for this token",
            "add the index to the token's allowed indexes in Splunk, or change the destination's index",
        ),
        Some(6 | 12 | 13 | 15) => Verdict::stop(
            format!("HEC refused the data: {text}"),
            "check the destination's sourcetype and format against the token's settings",
        ),
        Some(9) => from_status(503, retry_after, now_ms),
        _ => from_status(status, retry_after, now_ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Timestamp;

    fn record(id: &str, service: Option<&str>) -> Record {
        Record {
            id: id.into(),
            occurred_at: Timestamp(1_795_305_600_123),
            service: service.map(str::to_string),
            json: format!("{{\"id\":\"{id}\"}}"),
        }
    }

    #[test]
    fn envelopes_carry_time_source_sourcetype_index_and_the_record() {
        let settings = HecSettings {
            index: Some("audit".into()),
            source: "auditlog".into(),
            sourcetype: None,
        };
        let body = body(
            &[record("a", Some("billing")), record("b", None)],
            &settings,
            "auditlog:ocsf",
        );
        let text = String::from_utf8(body).unwrap_or_default();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_default())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["time"], 1_795_305_600.123);
        assert_eq!(lines[0]["host"], "billing");
        assert_eq!(lines[0]["index"], "audit");
        assert_eq!(lines[0]["sourcetype"], "auditlog:ocsf");
        assert_eq!(lines[0]["event"]["id"], "a");
        assert!(lines[1].get("host").is_none());
    }

    #[test]
    fn answers_by_code() {
        assert_eq!(
            verdict(200, br#"{"text":"Success","code":0}"#, None, 0),
            Verdict::Delivered
        );
        for (status, answer) in [
            (403, r#"{"text":"Token disabled","code":1}"#),
            (401, r#"{"text":"Token is required","code":2}"#),
            (403, r#"{"text":"Invalid token","code":4}"#),
            (
                400,
                r#"{"text":"Incorrect index","code":7,"invalid-event-number":0}"#,
            ),
            (
                400,
                r#"{"text":"Invalid data format","code":6,"invalid-event-number":3}"#,
            ),
        ] {
            assert!(
                matches!(
                    verdict(status, answer.as_bytes(), None, 0),
                    Verdict::Stop { .. }
                ),
                "{answer}"
            );
        }
        assert!(matches!(
            verdict(503, br#"{"text":"Server is busy","code":9}"#, Some("3"), 0),
            Verdict::Retry { after: Some(d), .. } if d.as_secs() == 3
        ));
        assert!(matches!(
            verdict(502, b"<html>bad gateway</html>", None, 0),
            Verdict::Retry { .. }
        ));
    }
}
