//! Datadog Logs: `POST https://http-intake.logs.<site>/api/v2/logs` with `DD-API-KEY`, a gzip
//! JSON array of log entries, at most 1,000 entries and 5 MB (uncompressed) per request and
//! 1 MB per entry (Datadog's published limits).
//!
//! Each entry is the record as its `message` (Datadog parses a JSON message into attributes),
//! `ddsource: auditlog`, the event's service, tags for the tenant and format, and the event's
//! time as `timestamp`. Datadog drops entries whose time is more than 18 hours old, so an
//! older event (a backlog after a pause, a replay) is sent without `timestamp`: Datadog stamps
//! it when it arrives, and its own time stays in the record and in an `occurred_at` attribute,
//! so nothing is dropped and the original time can still be searched.

use serde_json::json;

use super::batch::{BatchLimits, Record};

pub const LIMITS: BatchLimits = BatchLimits {
    max_records: 1000,
    max_bytes: 5_000_000,
};

/// Entries older than this are sent without their time (Datadog's limit is 18 h; an hour is
/// kept for the time the request takes and clocks that differ).
pub const MAX_AGE_MS: i64 = 17 * 60 * 60 * 1000;

/// Datadog's sites, by the name a customer sees in their account's URL.
pub const SITES: &[&str] = &[
    "datadoghq.com",
    "us3.datadoghq.com",
    "us5.datadoghq.com",
    "datadoghq.eu",
    "ap1.datadoghq.com",
    "ap2.datadoghq.com",
    "ddog-gov.com",
];

/// The intake URL of a site; `None` for a site Datadog does not have.
pub fn intake_url(site: &str) -> Option<String> {
    SITES
        .contains(&site)
        .then(|| format!("https://http-intake.logs.{site}/api/v2/logs"))
}

/// The request body (before gzip): one entry per record.
pub fn body(records: &[Record], tenant: &str, format: &str, now_ms: i64) -> Vec<u8> {
    let entries: Vec<serde_json::Value> = records
        .iter()
        .map(|record| {
            let mut entry = json!({
                "ddsource": "auditlog",
                "ddtags": format!("tenant:{tenant},format:{format}"),
                "service": record.service.as_deref().unwrap_or("auditlog"),
                "message": record.json,
                "occurred_at": record.occurred_at.0,
            });
            if now_ms.saturating_sub(record.occurred_at.0) <= MAX_AGE_MS {
                entry["timestamp"] = json!(record.occurred_at.0);
            }
            entry
        })
        .collect();
    serde_json::to_vec(&entries).unwrap_or_default()
}

/// How many bytes a record takes in the body: its message is escaped into a string.
pub fn entry_size(record: &Record) -> usize {
    record.json.len() + record.json.len() / 8 + 200
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Timestamp;

    #[test]
    fn sites_and_entries() {
        assert_eq!(
            intake_url("datadoghq.eu").as_deref(),
            Some("https://http-intake.logs.datadoghq.eu/api/v2/logs")
        );
        assert_eq!(intake_url("evil.example.com"), None);
        let now = 1_795_305_600_000;
        let records = [
            Record {
                id: "fresh".into(),
                occurred_at: Timestamp(now - 60_000),
                service: Some("billing".into()),
                json: r#"{"id":"fresh"}"#.into(),
            },
            Record {
                id: "old".into(),
                occurred_at: Timestamp(now - 20 * 60 * 60 * 1000),
                service: None,
                json: r#"{"id":"old"}"#.into(),
            },
        ];
        let entries: serde_json::Value =
            serde_json::from_slice(&body(&records, "acme", "ocsf", now)).unwrap_or_default();
        assert_eq!(entries[0]["timestamp"], now - 60_000);
        assert_eq!(entries[0]["service"], "billing");
        assert_eq!(entries[0]["ddtags"], "tenant:acme,format:ocsf");
        assert_eq!(entries[0]["message"], r#"{"id":"fresh"}"#);
        // Past Datadog's 18 hours: no timestamp (stamped on arrival), the time kept beside.
        assert!(entries[1].get("timestamp").is_none());
        assert_eq!(entries[1]["occurred_at"], now - 20 * 60 * 60 * 1000);
    }
}
