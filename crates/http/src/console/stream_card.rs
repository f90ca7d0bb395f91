//! A stream's card on the destinations page: the status document of
//! `GET /v1/destinations/{id}/stream` (condition, error and hint, counts, backlog and its
//! retention warning) with what the stream sends where (target, format, filter). Everything
//! shown is escaped by maud; the URL is shown without its query, as every list shows it.

use auditlog_core::Timestamp;
use auditlog_core::stream::filter::{Filter, Side};
use auditlog_core::stream::status::{Condition, StreamStatus};
use auditlog_core::stream::target::StreamSettings;
use maud::{Markup, html};

use super::views::when;

fn condition(status: &StreamStatus) -> (&'static str, &'static str) {
    match status.condition {
        Condition::Active => ("healthy", "Active"),
        Condition::Paused => ("paused", "Paused"),
        Condition::Stopped => ("failing", "Stopped"),
        Condition::Retrying => ("failing", "Retrying"),
    }
}

fn side(label: &str, side: &Side) -> Option<String> {
    let mut parts: Vec<String> = side.actions.clone();
    parts.extend(side.outcomes.iter().map(|o| o.as_str().to_string()));
    (!parts.is_empty()).then(|| format!("{label} {}", parts.join(", ")))
}

pub(super) fn filter_text(filter: &Filter) -> String {
    let parts: Vec<String> = [
        side("only", &filter.include),
        side("never", &filter.exclude),
    ]
    .into_iter()
    .flatten()
    .collect();
    if parts.is_empty() {
        "every event".to_string()
    } else {
        parts.join("; ")
    }
}

pub(super) fn stream_card(
    now: Timestamp,
    settings: &StreamSettings,
    status: &StreamStatus,
) -> Markup {
    let (class, label) = condition(status);
    html! {
        section.destination.stream data-id=(status.destination_id) {
            h2 {
                code { (status.destination_id) } " "
                span.kind { (settings.target.kind()) } " "
                span.place { (settings.target.location()) }
            }
            p class=(class) {
                (label)
                @if let Some(at) = status.retry_at { ", next try " (when(now, at)) }
            }
            @if let Some(warning) = status.backlog.as_ref().and_then(|b| b.retention_warning.as_ref()) {
                p.retention-warning { (warning) }
            }
            dl.fields {
                dt { "Sends" }
                dd { (settings.format.name()) ": " (filter_text(&settings.filter)) }
                dt { "Last success" }
                dd { @if let Some(t) = status.last_success_at { (when(now, t)) } @else { "never" } }
                @if let Some(problem) = &status.error {
                    dt { "Error" }
                    dd.last-error {
                        (when(now, problem.at)) br; (problem.error)
                        @if !problem.hint.is_empty() { br; span.hint { (problem.hint) } }
                    }
                }
                dt { "Delivered" }
                dd { (status.delivered) " events, " (status.filtered) " left out by the filter" }
                dt { "Backlog" }
                dd {
                    @match &status.backlog {
                        Some(backlog) => {
                            (backlog.events) @if backlog.at_least { "+" } " events, the oldest received "
                            (when(now, backlog.oldest_received_at)) ", expiring "
                            (when(now, backlog.expires_at))
                        }
                        None => { "none" }
                    }
                }
            }
        }
    }
}
