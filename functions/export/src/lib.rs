//! The export Lambda: on each schedule tick, one export pass over every destination (the same
//! pass as `auditlog export`), with bounded concurrency and memory, returning a summary.
//!
//! # Layout
//!
//! - [`scheduled_time`]: reads the invocation's input: an EventBridge scheduled event
//!   (`"detail-type": "Scheduled Event"`, `time`), the plain JSON EventBridge Scheduler sends
//!   (`{"scheduled_time": ...}`), or `{}` for a manual run. Pure, unit-tested.
//! - [`handle`]: one invocation, on an [`Exporter`] built once per cold start (`main.rs`).
//!   A pass in which any destination failed ends as a function error, after every destination
//!   was tried: Lambda's Errors metric (and the alarm on it) sees it, and an asynchronous
//!   invocation is retried, which is safe (objects are created once; checkpoints are CAS).

use std::sync::Arc;

use auditlog_core::Timestamp;
use auditlog_core::export::ExportConfig;
use auditlog_core::store::ExportStore;
use auditlog_core::time::parse_rfc3339;
use auditlog_export::engine::SinkFactory;
use auditlog_export::export_pass;
use serde_json::{Value, json};

/// What every invocation shares.
pub struct Exporter {
    pub store: Arc<dyn ExportStore>,
    pub sinks: Arc<dyn SinkFactory>,
    pub config: ExportConfig,
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
