//! The destinations page, for sessions issued with `"admin": true`: each destination's health,
//! read-only. An object store shows the status document of `GET /v1/destinations/{id}/status`,
//! a stream that of `GET /v1/destinations/{id}/stream` ([`super::stream_card`]).

use auditlog_core::export::{Destination, Target};
use auditlog_core::store::ExportStore;
use auditlog_export::deliver::stream_status;
use auditlog_export::{DestinationStatus, destination_status};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::{Markup, html};

use super::session::{RefusalPage, Viewer};
use super::stream_card::{filter_text, stream_card};
use super::views::{layout, when};
use crate::AppState;

fn unavailable(e: impl std::fmt::Display) -> RefusalPage {
    tracing::error!(error = %e, "store call failed");
    RefusalPage::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "the destinations cannot be read right now",
    )
}

/// `GET /console/destinations`.
pub async fn list(State(state): State<AppState>, viewer: Viewer) -> Result<Response, RefusalPage> {
    if !viewer.session.admin {
        return Err(RefusalPage::new(
            StatusCode::FORBIDDEN,
            "this viewer session does not show destinations; ask for an admin session",
        ));
    }
    let now = (state.clock)();
    let destinations = state
        .store
        .list_destinations(Some(&viewer.session.tenant))
        .await
        .map_err(unavailable)?;
    let store: &dyn ExportStore = state.store.as_ref();
    let mut rows = Vec::with_capacity(destinations.len());
    let mut streams = Vec::new();
    for destination in &destinations {
        let place = match &destination.target {
            Target::S3(s3) => format!("s3://{}/{}", s3.bucket, s3.prefix),
            Target::Azure(azure) => azure.location(),
            Target::Directory { path, prefix } => format!("{path}/{prefix}"),
            Target::Stream(settings) => {
                let status = stream_status(store, destination, state.config.retention_ms, now)
                    .await
                    .map_err(unavailable)?;
                streams.push((settings, status));
                continue;
            }
        };
        let status = destination_status(store, destination, now)
            .await
            .map_err(unavailable)?;
        rows.push((place, destination, status));
    }
    let body = html! {
        h1 { "Destinations" }
        @if rows.is_empty() && streams.is_empty() {
            p.empty { "This tenant has no destinations." }
        }
        @if !rows.is_empty() { h2.group { "Object stores" } }
        @for (place, destination, status) in &rows { (card(now, place, destination, status)) }
        @if !streams.is_empty() { h2.group { "Streams" } }
        @for (settings, status) in &streams { (stream_card(now, settings, status)) }
    };
    Ok(Html(layout("Destinations", Some(&viewer.session), body).into_string()).into_response())
}

fn card(
    now: auditlog_core::Timestamp,
    place: &str,
    destination: &Destination,
    status: &DestinationStatus,
) -> Markup {
    let compression = destination.compression;
    html! {
        section.destination data-id=(status.destination_id) {
            h2 { code { (status.destination_id) } " " span.place { (place) } }
            p class=(if status.healthy { "healthy" } else { "failing" }) {
                @if status.healthy { "Healthy" } @else { "Failing" }
                @if status.paused { span.paused { ", paused: no objects are written" } }
            }
            dl.fields {
                dt { "Objects" }
                dd.objects {
                    "NDJSON " (destination.format.name()) ", " (compression.as_str())
                    " (" code { "*" (compression.suffix()) } "), "
                    @match &destination.filter {
                        Some(filter) => { (filter_text(filter)) }
                        None => { "every event" }
                    }
                }
                @if let Some(replay) = &destination.replay {
                    dt { "Replay of" }
                    dd.replay {
                        code { (replay.of) } " from " (replay.from.to_rfc3339())
                        ", to the end of the digest period holding " (replay.until.to_rfc3339())
                    }
                }
                dt { "Last success" }
                dd { @if let Some(t) = status.last_success_at { (when(now, t)) } @else { "never" } }
                @if let Some(error) = &status.last_error {
                    dt { "Last error" }
                    dd.last-error { (when(now, error.at)) br; (error.message) }
                }
                dt { "Delivered" }
                dd { (status.events_delivered) " events in " (status.objects_delivered) " objects" }
                dt { "Backlog" }
                dd {
                    (status.backlog.events) @if status.backlog.capped { "+" } " events"
                    @if let Some(t) = status.backlog.oldest_unexported_at {
                        ", the oldest received " (when(now, t))
                    }
                }
                dt { "Digests written" }
                dd { (status.digests.written) }
            }
        }
    }
}
