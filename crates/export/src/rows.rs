//! One stored event on its way into an object store's parts, as the destination wants it: left
//! out by its filter, copied as stored (v1), or rendered as OCSF or ECS with the event's id and
//! receipt beside the record (`docs/export.md`, Formats).

use auditlog_core::Event;
use auditlog_core::export::Destination;
use auditlog_core::integrity::{IntegrityError, SourceEvent};
use auditlog_core::store::StoredEvent;
use auditlog_core::stream::format::{Format, render};

use crate::parts::{Part, PartEncoder, PartError, receipt_of};

/// What became of a row.
pub enum Row {
    /// The destination's filter left it out: handled, not written.
    Filtered,
    /// Written; the part it closed, if any.
    Written(Option<Part>),
}

/// Writes `row` into `encoder` for `destination`.
pub fn encode_row(
    encoder: &mut PartEncoder,
    destination: &Destination,
    row: &StoredEvent,
) -> Result<Row, PartError> {
    let filter = destination.filter.as_ref();
    if destination.format == Format::V1 {
        if filter.is_some_and(|f| !f.admits_stored(&row.json)) {
            return Ok(Row::Filtered);
        }
        return encoder
            .push(&row.json, row.receipt.as_deref())
            .map(Row::Written);
    }
    // A row that cannot be read as an event cannot be rendered: an error for the destination's
    // status, never a silent gap.
    let event: Event = serde_json::from_str(&row.json)
        .map_err(|e| IntegrityError::NotJson(format!("a stored event does not parse: {e}")))?;
    // The event is parsed already: the filter reads it rather than the JSON again.
    if filter.is_some_and(|f| !f.admits(&event)) {
        return Ok(Row::Filtered);
    }
    let record = render(
        &event,
        &row.json,
        destination.format,
        &destination.ocsf_classes,
    );
    let source = SourceEvent {
        id: event.id.into(),
        receipt: receipt_of(&row.json, row.receipt.as_deref())?,
    };
    encoder.push_record(record, source).map(Row::Written)
}
