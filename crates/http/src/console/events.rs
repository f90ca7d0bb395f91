//! The events list and one event's detail. Reads go through `event_pages::read_page`, the code
//! behind `GET /v1/events`, after the session's fixed filter has narrowed the query.

use auditlog_core::Timestamp;
use auditlog_core::event::Event;
use auditlog_core::integrity::receipt;
use auditlog_core::query::ParamError;
use auditlog_core::store::StoredEvent;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::{Markup, html};

use super::download::{MAX_DOWNLOAD_EVENTS, download_url};
use super::form::{
    DEFAULT_PAGE_SIZE, ListRequest, PAGE_SIZES, RANGES, events_url, pairs_of, parse_view,
    query_pairs,
};
use super::session::{RefusalPage, Viewer};
use super::views::{actor, iso, layout, when};
use crate::AppState;
use crate::event_pages::{cursor_after, read_page, reversed};
use crate::self_audit::{RequestOrigin, filters_of};
use auditlog_core::self_audit::{self, SelfAction, SelfEvent};

/// What the list shows: rows in display order and the paging links.
struct Listing {
    rows: Vec<StoredEvent>,
    /// The paging session's pinned end.
    until: Timestamp,
    next: Option<String>,
    previous: Option<String>,
}

async fn listing(state: &AppState, tenant: &str, request: &ListRequest) -> Result<Listing, String> {
    let query = &request.query;
    let link = |cursor: String, back: bool| {
        let mut pairs = query_pairs(query);
        pairs.push(("cursor", cursor));
        if back {
            pairs.push(("back", "1".into()));
        }
        events_url(&pairs)
    };
    let read = if request.back {
        reversed(query)
    } else {
        query.clone()
    };
    let page = read_page(state, tenant, &read, request.cursor.as_deref())
        .await
        .map_err(|e| e.message)?;
    let until = page.until;
    let (rows, earlier, later) = if request.back {
        let mut rows = page.rows;
        rows.reverse();
        (rows, page.next_cursor.is_some(), true)
    } else {
        let came_from_later = request.cursor.is_some();
        (page.rows, came_from_later, page.next_cursor.is_some())
    };
    let next = match (later, rows.last()) {
        (true, Some(last)) => Some(link(
            cursor_after(state, tenant, query, &last.position, until),
            false,
        )),
        _ => None,
    };
    let previous = match (earlier, rows.first()) {
        (true, Some(first)) => Some(link(
            cursor_after(state, tenant, &reversed(query), &first.position, until),
            true,
        )),
        _ => None,
    };
    Ok(Listing {
        rows,
        until,
        next,
        previous,
    })
}

/// `GET /console/events`: the filter form, the table and the paging links.
pub async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    RequestOrigin(client): RequestOrigin,
    RawQuery(raw): RawQuery,
) -> Response {
    let now = (state.clock)();
    let pairs = pairs_of(raw);
    let request = parse_view(&pairs, now, &viewer.fixed);
    let (status, body) = match request {
        Err(problems) => (StatusCode::BAD_REQUEST, problems_markup(&problems)),
        Ok(request) => match listing(&state, &viewer.session.tenant, &request).await {
            Ok(listing) => {
                let record = SelfEvent::new(
                    SelfAction::ConsoleEventsListed,
                    self_audit::viewer(&viewer.session),
                )
                .detail("filters", filters_of(&request.query))
                .detail("order", request.query.order.as_str())
                .detail("continued", request.cursor.is_some())
                .detail("returned", listing.rows.len())
                .origin(client);
                let recorded = state
                    .record_after(&viewer.session.tenant, record, listing.until)
                    .await;
                if let Err(e) = recorded {
                    return RefusalPage::new(e.status, e.message).into_response();
                }
                (StatusCode::OK, list_markup(now, &request, &listing))
            }
            Err(message) => (
                StatusCode::BAD_REQUEST,
                problems_markup(&[ParamError {
                    parameter: "cursor".into(),
                    message,
                }]),
            ),
        },
    };
    let form = form_markup(&pairs, &viewer);
    let page = layout("Events", Some(&viewer.session), html! { (form) (body) });
    (status, Html(page.into_string())).into_response()
}

fn value_of<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

fn form_markup(pairs: &[(String, String)], viewer: &Viewer) -> Markup {
    let text = |name: &str, label: &str| {
        html! {
            label { (label) input type="text" name=(name) value=(value_of(pairs, name)); }
        }
    };
    let chosen_range = value_of(pairs, "range");
    let chosen_limit = match value_of(pairs, "limit") {
        "" => DEFAULT_PAGE_SIZE.to_string(),
        limit => limit.to_string(),
    };
    let chosen_outcome = value_of(pairs, "outcome");
    html! {
        form.filters method="get" action="/console/events" {
            label { "Time"
                select name="range" {
                    @for (name, label, _) in RANGES {
                        option value=(name) selected[chosen_range == name] { (label) }
                    }
                }
            }
            (text("from", "From (UTC)"))
            (text("to", "To (UTC)"))
            (text("action", "Action (user.login or user.*)"))
            (text("actor_id", "Actor id"))
            (text("actor_email", "Actor e-mail"))
            (text("target_id", "Target id"))
            label { "Outcome"
                select name="outcome" {
                    option value="" { "any" }
                    @for o in ["success", "failure", "unknown"] {
                        option value=(o) selected[chosen_outcome == o] { (o) }
                    }
                }
            }
            (text("source_service", "Source service"))
            label { "Per page"
                select name="limit" {
                    @for size in PAGE_SIZES {
                        option value=(size) selected[chosen_limit == size.to_string()] { (size) }
                    }
                }
            }
            button type="submit" { "Show" }
        }
        @if !viewer.session.filter.is_empty() {
            p.fixed { "This view is limited to: "
                @for (name, value) in query_pairs(&viewer.fixed).into_iter().filter(|(n, _)| *n != "limit" && *n != "order") {
                    code { (name) " = " (value) } " "
                }
            }
        }
    }
}

fn problems_markup(problems: &[ParamError]) -> Markup {
    html! {
        div.problems role="alert" {
            p { "These filters cannot be used:" }
            ul { @for p in problems { li { code { (p.parameter) } ": " (p.message) } } }
        }
    }
}

fn list_markup(now: Timestamp, request: &ListRequest, listing: &Listing) -> Markup {
    html! {
        p.downloads {
            "Download these events: "
            a.download href=(download_url(&request.query, "csv")) { "CSV" } " · "
            a.download href=(download_url(&request.query, "ndjson")) { "NDJSON" }
            " (at most " (MAX_DOWNLOAD_EVENTS) " events; narrow the filters for more)"
        }
        @if listing.rows.is_empty() {
            p.empty { "No events match these filters." }
        } @else {
            table.events {
                thead { tr { th { "Time (UTC)" } th { "Action" } th { "Actor" } th { "Targets" } th { "Outcome" } th { "Source" } } }
                tbody {
                    @for row in &listing.rows { (row_markup(now, row)) }
                }
            }
        }
        nav.paging {
            @if let Some(url) = &listing.previous { a rel="prev" href=(url) { "← Previous page" } }
            @if let Some(url) = &listing.next { a rel="next" href=(url) { "Next page →" } }
        }
    }
}

fn detail_url(id: &str) -> String {
    let mut url = form_urlencoded::Serializer::new(String::new());
    url.append_pair("id", id);
    format!("/console/event?{}", url.finish())
}

fn row_markup(now: Timestamp, row: &StoredEvent) -> Markup {
    match serde_json::from_str::<Event>(&row.json) {
        Ok(event) => html! {
            tr data-id=(event.id) {
                td { a href=(detail_url(&event.id)) { (when(now, event.occurred_at)) } }
                td.action { (event.action) }
                td.actor { (actor(&event)) }
                td.targets {
                    @for (i, t) in event.targets.iter().enumerate() {
                        @if i > 0 { ", " }
                        (t.name.as_deref().unwrap_or(&t.id))
                    }
                }
                td.outcome { (event.outcome.as_str()) }
                td.source { (event.source.as_ref().and_then(|s| s.service.as_deref()).unwrap_or("")) }
            }
        },
        Err(_) => {
            html! { tr { td colspan="6" { "an event that could not be read: " (row.position.id) } } }
        }
    }
}

/// `GET /console/event?id=...`: every field of one event the session may see.
pub async fn detail(
    State(state): State<AppState>,
    viewer: Viewer,
    RequestOrigin(client): RequestOrigin,
    RawQuery(raw): RawQuery,
) -> Result<Response, RefusalPage> {
    let pairs = pairs_of(raw);
    let id = value_of(&pairs, "id");
    let not_found = || RefusalPage::new(StatusCode::NOT_FOUND, "no such event in this view");
    if id.is_empty() {
        return Err(not_found());
    }
    let now = (state.clock)();
    let json = state
        .store
        .get_event(&viewer.session.tenant, id, now)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "store call failed");
            RefusalPage::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the audit log cannot be read right now",
            )
        })?
        .ok_or_else(not_found)?;
    let event: Event = serde_json::from_str(&json).map_err(|_| not_found())?;
    // The fixed filter holds here too: an id from elsewhere shows nothing outside the view.
    if !viewer.fixed.matches(&event) {
        return Err(not_found());
    }
    let record = SelfEvent::new(
        SelfAction::ConsoleEventViewed,
        self_audit::viewer(&viewer.session),
    )
    .target("event", &event.id, None)
    .detail("returned", 1)
    .origin(client);
    state
        .record(&viewer.session.tenant, record)
        .await
        .map_err(|e| RefusalPage::new(e.status, e.message))?;
    let pretty = serde_json::from_str::<serde_json::Value>(&json)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_else(|_| json.clone());
    let sha256 = receipt(&json).unwrap_or_default();
    let body = html! {
        h1 { (event.action) }
        dl.fields {
            dt { "Id" } dd { code { (event.id) } }
            dt { "Occurred" } dd { (when(now, event.occurred_at)) }
            dt { "Received" } dd { (iso(event.received_at)) }
            dt { "Actor" } dd { (actor(&event)) " (" (event.actor.id) ")" }
            dt { "Outcome" } dd { (event.outcome.as_str()) }
            dt { "Receipt (SHA-256)" } dd {
                code.receipt { (sha256) }
                p.explain { "The SHA-256 of this event's canonical stored form. The sender got the same value when the event was accepted, and the event's line in every export carries it: a match shows the event was not altered since." }
            }
        }
        h2 { "Stored JSON" }
        p.explain { "Secret values were masked before storing, and show as \"[REDACTED]\"." }
        pre.json { (pretty) }
        p { a href="/console/events" { "← Back to the events" } }
    };
    Ok(Html(layout(&event.action, Some(&viewer.session), body).into_string()).into_response())
}
