//! `destinations verify`: one small object written through the destination's real path.

use auditlog_core::Timestamp;
use auditlog_core::export::{Destination, verify_key};

use crate::engine::SinkFactory;
use crate::sink::SinkError;

/// Writes `_verify/auditlog-verify-test-{timestamp}.json` through the real path (role
/// assumption included); returns its key.
pub async fn verify_destination(
    sinks: &dyn SinkFactory,
    destination: &Destination,
    now: Timestamp,
) -> Result<String, SinkError> {
    let sink = sinks.sink_for(destination).await?;
    let key = verify_key(destination.target.prefix(), now);
    let body = serde_json::json!({
        "auditlog": "destination verification",
        "destination": destination.id,
        "tenant": destination.tenant,
        "written_at": now.to_rfc3339(),
    });
    sink.put_verification(&key, body.to_string().into_bytes())
        .await?;
    Ok(key)
}
