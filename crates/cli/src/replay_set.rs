//! `auditlog destinations replay ID --from T` for an object store: adds its replay set (the
//! events delivered from `T`, written again under `{prefix}_replay/{id}/`; see
//! `auditlog_core::export::replay`), which the next export pass writes. A stream replays
//! through `auditlog streams replay`.

use anyhow::bail;
use auditlog_core::export::replay::replay_destination;
use auditlog_core::self_audit::{SelfAction, SelfEvent};
use auditlog_core::store::ServiceStore;
use auditlog_core::time::parse_rfc3339;
use auditlog_http::destinations::{DestinationView, new_destination_id};

use crate::operator::{Recorder, now};

pub async fn replay(
    store: &dyn ServiceStore,
    recorder: &Recorder,
    id: &str,
    from: &str,
) -> anyhow::Result<bool> {
    let from = parse_rfc3339(from).map_err(|e| anyhow::anyhow!("--from: {e}"))?;
    let original = crate::export::find(store, id).await?;
    if !original.target.is_object_store() {
        bail!("{id} is a stream: `auditlog streams replay {id} --from ...` replays it");
    }
    let state = store.export_state(id).await?;
    let set = replay_destination(&original, &state, from, new_destination_id(), now())
        .map_err(|e| anyhow::anyhow!("cannot replay {id}: {e}"))?;
    let record = recorder.event(
        &set.tenant,
        SelfEvent::new(SelfAction::DestinationReplayed, recorder.caller())
            .destination(&set)
            .detail("replay_of", original.id.clone())
            .detail("from", from.to_rfc3339()),
    );
    store.add_destination(&set, &record).await?;
    match serde_json::to_string_pretty(&DestinationView::of(&set)) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("could not print the answer: {e}"),
    }
    Ok(true)
}
