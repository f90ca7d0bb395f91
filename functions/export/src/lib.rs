//! The export Lambda: on each schedule tick, one export pass over every destination (the same
//! pass as `auditlog export`), with bounded concurrency and memory, returning a summary.
//!
//! # Layout
//!
//! - [`scheduled_time`]: reads the invocation's input: an EventBridge scheduled event
//!   (`"detail-type": "Scheduled Event"`, `time`), the plain JSON EventBridge Scheduler sends
//!   (`{"scheduled_time": ...}`), or `{}` for a manual run. Pure, unit-tested.
//! - [`handle`]: one invocation, on an [`Exporter`] built once per cold start (`main.rs`):
//!   the export pass, then a stream delivery pass within its time budget.
//!   A pass in which any destination failed ends as a function error, after every destination
//!   was tried: Lambda's Errors metric (and the alarm on it) sees it, and an asynchronous
//!   invocation is retried, which is safe (objects are created once; checkpoints are CAS).

use std::sync::Arc;

use auditlog_core::Timestamp;
use auditlog_core::export::ExportConfig;
use auditlog_core::store::ExportStore;
use auditlog_core::stream::status::Condition;
use auditlog_core::time::parse_rfc3339;
use auditlog_export::deliver::{StreamClient, StreamConfig, stream_pass, stream_status};
use auditlog_export::engine::SinkFactory;
use auditlog_export::engine::oldest_unexported;
use auditlog_export::export_pass;
use serde_json::{Value, json};

/// The metric the backlog-age alarm of `template.yaml` watches.
pub const BACKLOG_METRIC: (&str, &str) = ("auditlog", "OldestUnexportedAgeSeconds");
/// The metric the stream backlog alarm watches: the oldest event an enabled (not paused) stream
/// has not delivered yet. Its alarm is the retention guard of streams: it fires well before
/// retention could delete an undelivered event.
pub const STREAM_BACKLOG_METRIC: (&str, &str) = ("auditlog", "OldestUndeliveredStreamAgeSeconds");

/// Every `AUDITLOG_*` variable the function reads (the template test checks that
/// `template.yaml` sets each one).
pub fn env_names() -> Vec<String> {
    let mut names = auditlog_settings::env_names::<auditlog_settings::ApiArgs>();
    names.extend(auditlog_settings::env_names::<auditlog_settings::ExportArgs>());
    names.extend(auditlog_aws::DynamoConfig::ENV_NAMES.map(String::from));
    names.push("AUDITLOG_LOG".into());
    names
}

/// What every invocation shares.
pub struct Exporter {
    pub store: Arc<dyn ExportStore>,
    pub sinks: Arc<dyn SinkFactory>,
    pub config: ExportConfig,
    /// The stream deliverer: its client (built once) and configuration.
    pub streams: Streams,
}

pub struct Streams {
    pub client: StreamClient,
    pub config: StreamConfig,
}

#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error(
        "the input is not a JSON object (an EventBridge scheduled event, or {{\"scheduled_time\": ...}})"
    )]
    NotAnObject,
    #[error("{pointer}: {reason}")]
    Field {
        pointer: &'static str,
        reason: String,
    },
}

/// The time the schedule fired, if the input says; `None` for a manual run (`{}`).
pub fn scheduled_time(input: &Value) -> Result<Option<Timestamp>, InputError> {
    let object = input.as_object().ok_or(InputError::NotAnObject)?;
    let (pointer, field) = match object.get("detail-type") {
        Some(kind) if kind.as_str() == Some("Scheduled Event") => ("/time", object.get("time")),
        Some(_) => {
            return Err(InputError::Field {
                pointer: "/detail-type",
                reason: "only EventBridge scheduled events (\"Scheduled Event\") start an export"
                    .into(),
            });
        }
        None => {
            // A misrouted event (an API Gateway request, say) is refused, not taken as a tick.
            if let Some(other) = object.keys().find(|k| k.as_str() != "scheduled_time") {
                return Err(InputError::Field {
                    pointer: "/",
                    reason: format!(
                        "unexpected field `{other}`: the input is an EventBridge scheduled event, {{\"scheduled_time\": ...}} or {{}}"
                    ),
                });
            }
            ("/scheduled_time", object.get("scheduled_time"))
        }
    };
    match field {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => parse_rfc3339(text)
            .map(Some)
            .map_err(|e| InputError::Field {
                pointer,
                reason: format!("not an RFC 3339 time: {e}"),
            }),
        Some(_) => Err(InputError::Field {
            pointer,
            reason: "must be an RFC 3339 time string".into(),
        }),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExportFailure {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("the store is unavailable: {0}")]
    Store(String),
    #[error("{failed} of {total} destinations failed: {summary}")]
    Destinations {
        failed: usize,
        total: usize,
        summary: Value,
    },
}

impl ExportFailure {
    /// The `errorType` Lambda reports.
    pub fn kind(&self) -> &'static str {
        match self {
            ExportFailure::Input(_) => "InvalidInput",
            ExportFailure::Store(_) => "StoreUnavailable",
            ExportFailure::Destinations { .. } => "DestinationsFailed",
        }
    }
}

/// The age of the oldest event not yet exported, over all destinations (0 when none waits);
/// `None` when the store could not say (the pass's own errors report that).
async fn backlog_age_seconds(exporter: &Exporter, now: Timestamp) -> Option<i64> {
    let destinations = exporter.store.list_destinations(None).await.ok()?;
    let mut oldest_age = 0;
    for destination in destinations.iter().filter(|d| d.target.is_object_store()) {
        let oldest = oldest_unexported(exporter.store.as_ref(), destination, now)
            .await
            .ok()?;
        if let Some(at) = oldest {
            oldest_age = oldest_age.max((now.0 - at.0).max(0) / 1000);
        }
    }
    Some(oldest_age)
}

/// The age of the oldest event an enabled stream has not delivered (0 when none waits); `None`
/// when the store could not say.
async fn stream_backlog_age_seconds(exporter: &Exporter, now: Timestamp) -> Option<i64> {
    let destinations = exporter.store.list_destinations(None).await.ok()?;
    let mut oldest_age = 0;
    for destination in destinations.iter().filter(|d| !d.target.is_object_store()) {
        // Only the backlog's age is read: the retention (for the warning text) does not matter.
        let status = stream_status(exporter.store.as_ref(), destination, 0, now)
            .await
            .ok()?;
        if status.condition != Condition::Paused
            && let Some(backlog) = status.backlog
        {
            oldest_age = oldest_age.max(backlog.age_ms / 1000);
        }
    }
    Some(oldest_age)
}

/// The metrics `auditlog/OldestUnexportedAgeSeconds` and
/// `auditlog/OldestUndeliveredStreamAgeSeconds` as a CloudWatch Embedded Metric Format log line
/// (Lambda's log pipeline turns it into metrics; no API call, no extra permission).
pub fn backlog_metric(age_seconds: i64, stream_age_seconds: i64, now: Timestamp) -> String {
    json!({
        "_aws": {
            "Timestamp": now.0,
            "CloudWatchMetrics": [{
                "Namespace": BACKLOG_METRIC.0,
                "Dimensions": [[]],
                "Metrics": [
                    {"Name": BACKLOG_METRIC.1, "Unit": "Seconds"},
                    {"Name": STREAM_BACKLOG_METRIC.1, "Unit": "Seconds"},
                ],
            }],
        },
        BACKLOG_METRIC.1: age_seconds,
        STREAM_BACKLOG_METRIC.1: stream_age_seconds,
    })
    .to_string()
}

/// One invocation: a pass at `now` over every destination. The summary is returned (and
/// logged); see the crate docs for why a failed destination makes the invocation fail.
pub async fn handle(
    exporter: &Exporter,
    input: &Value,
    request_id: &str,
    now: Timestamp,
) -> Result<Value, ExportFailure> {
    let scheduled = scheduled_time(input)?;
    let report = export_pass(
        exporter.store.as_ref(),
        exporter.sinks.as_ref(),
        &exporter.config,
        now,
    )
    .await
    .map_err(|e| ExportFailure::Store(e.to_string()))?;
    let mut summary = report.summary();
    // Streams after the objects, within their own budget (AUDITLOG_STREAM_BUDGET). A stream's
    // failure is the tenant receiver's, reported in the stream's status, not a function error.
    let streams = stream_pass(
        exporter.store.as_ref(),
        &exporter.streams.client,
        &exporter.streams.config,
        now,
    )
    .await
    .map_err(|e| ExportFailure::Store(e.to_string()))?;
    summary["streams"] = json!(streams);
    let oldest_age = backlog_age_seconds(exporter, now).await;
    let stream_age = stream_backlog_age_seconds(exporter, now).await;
    summary["oldest_unexported_age_seconds"] = json!(oldest_age);
    summary["oldest_undelivered_stream_age_seconds"] = json!(stream_age);
    if let (Some(age), Some(stream_age)) = (oldest_age, stream_age) {
        // One CloudWatch Embedded Metric Format line: the backlog alarms' metrics.
        println!("{}", backlog_metric(age, stream_age, now));
    }
    summary["request_id"] = json!(request_id);
    summary["scheduled_time"] = json!(scheduled.map(|t| t.to_rfc3339()));
    summary["ran_at"] = json!(now.to_rfc3339());
    if report.failed() > 0 {
        tracing::error!(summary = %summary, "export pass finished with failed destinations");
        return Err(ExportFailure::Destinations {
            failed: report.failed(),
            total: report.destinations.len(),
            summary,
        });
    }
    tracing::info!(summary = %summary, "export pass done");
    Ok(summary)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sample(name: &str) -> Value {
        let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn the_sample_inputs_give_their_scheduled_times() {
        assert_eq!(
            scheduled_time(&sample("export-scheduled.json"))
                .unwrap()
                .unwrap()
                .to_rfc3339(),
            "2026-11-22T10:05:00.000Z"
        );
        assert_eq!(
            scheduled_time(&sample("export-scheduler.json"))
                .unwrap()
                .unwrap()
                .to_rfc3339(),
            "2026-11-22T10:05:00.000Z"
        );
        assert_eq!(scheduled_time(&sample("export-manual.json")).unwrap(), None);
    }

    #[test]
    fn the_backlog_metric_is_embedded_metric_format() {
        let line: Value =
            serde_json::from_str(&backlog_metric(42, 7, Timestamp(1_795_305_600_000))).unwrap();
        assert_eq!(line["OldestUnexportedAgeSeconds"], 42);
        assert_eq!(line["OldestUndeliveredStreamAgeSeconds"], 7);
        assert_eq!(line["_aws"]["Timestamp"], 1_795_305_600_000_i64);
        let metric = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(metric["Namespace"], "auditlog");
        assert_eq!(metric["Metrics"][0]["Name"], "OldestUnexportedAgeSeconds");
        assert_eq!(
            metric["Metrics"][1]["Name"],
            "OldestUndeliveredStreamAgeSeconds"
        );
        assert_eq!(metric["Dimensions"], json!([[]]));
    }

    #[test]
    fn bad_inputs_name_the_field() {
        let e = scheduled_time(&json!({"scheduled_time": "soon"}))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("/scheduled_time: not an RFC 3339 time"),
            "{e}"
        );
        let e = scheduled_time(&json!({"detail-type": "Scheduled Event", "time": 5}))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("/time: must be"), "{e}");
        assert!(matches!(
            scheduled_time(&json!([1])),
            Err(InputError::NotAnObject)
        ));
        let e = scheduled_time(&sample("export-invalid.json"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("/scheduled_time:"), "{e}");
        let e = scheduled_time(&json!({"version": "2.0", "rawPath": "/v1/events"}))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unexpected field `rawPath`") || e.contains("unexpected field `version`"),
            "{e}"
        );
        let e = scheduled_time(&json!({"detail-type": "Object Created"}))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("/detail-type:"), "{e}");
    }
}
