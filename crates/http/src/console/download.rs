//! Downloads of the current filter: CSV (one row per event, nested fields flattened with dotted
//! names) or NDJSON (the stored events as they are). Streamed page by page through the same
//! page reader as the list, so memory holds one page whatever the size, and capped at
//! [`MAX_DOWNLOAD_EVENTS`], which the events page states.
//!
//! A download is recorded in the tenant's log before its first byte goes out, with its filters
//! and its exact count: the view is pinned at the moment the download starts (`to` is set to
//! then, so events arriving later cannot join it), counted, recorded, and then streamed, never
//! past the count. Counting reads the view once more; it is the price of a record that says how
//! many events left, written before any did.

use auditlog_core::event::{CompactString, Event};
use auditlog_core::query::EventQuery;
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::form::{pairs_of, parse_view};
use super::session::{RefusalPage, Viewer};
use crate::AppState;
use crate::event_pages::read_page;
use crate::self_audit::{RequestOrigin, filters_of};
use auditlog_core::Timestamp;
use auditlog_core::self_audit::{self, SelfAction, SelfEvent};

pub const MAX_DOWNLOAD_EVENTS: usize = 100_000;
/// Events read per page while streaming.
const PAGE: usize = 1000;

pub const CSV_COLUMNS: [&str; 25] = [
    "id",
    "received_at",
    "occurred_at",
    "action",
    "outcome",
    "actor.id",
    "actor.type",
    "actor.email",
    "actor.name",
    "targets.id",
    "targets.type",
    "targets.name",
    "context.ip_address",
    "context.user_agent",
    "context.request_id",
    "context.session_id",
    "context.location",
    "source.service",
    "source.environment",
    "source.version",
    "request.operation",
    "request.response_code",
    "request.latency_ms",
    "request.params",
    "metadata",
];

/// A cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, carriage return
/// first) gets a leading `'`: event fields are attacker-controlled (OWASP's CSV injection).
fn cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    }
}

fn joined<'a>(values: impl Iterator<Item = Option<&'a str>>) -> String {
    values
        .map(|v| v.unwrap_or(""))
        .collect::<Vec<_>>()
        .join("; ")
}

/// One event as the CSV's cells, in [`CSV_COLUMNS`] order (`request.params` and `metadata` as
/// JSON).
pub fn csv_cells(event: &Event) -> Vec<String> {
    let context = event.context.as_ref();
    let source = event.source.as_ref();
    let request = event.request.as_ref();
    let text = |v: Option<&CompactString>| cell(v.map_or("", CompactString::as_str));
    let json = |v: Option<&serde_json::Map<String, serde_json::Value>>| {
        v.map(|m| cell(&serde_json::Value::Object(m.clone()).to_string()))
            .unwrap_or_default()
    };
    vec![
        cell(&event.id),
        event.received_at.to_rfc3339(),
        event.occurred_at.to_rfc3339(),
        cell(&event.action),
        event.outcome.as_str().to_string(),
        cell(&event.actor.id),
        serde_json::to_value(event.actor.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        text(event.actor.email.as_ref()),
        text(event.actor.name.as_ref()),
        cell(&joined(event.targets.iter().map(|t| Some(t.id.as_str())))),
        cell(&joined(event.targets.iter().map(|t| t.kind.as_deref()))),
        cell(&joined(event.targets.iter().map(|t| t.name.as_deref()))),
        text(context.and_then(|c| c.ip_address.as_ref())),
        text(context.and_then(|c| c.user_agent.as_ref())),
        text(context.and_then(|c| c.request_id.as_ref())),
        text(context.and_then(|c| c.session_id.as_ref())),
        text(context.and_then(|c| c.location.as_ref())),
        text(source.and_then(|s| s.service.as_ref())),
        text(source.and_then(|s| s.environment.as_ref())),
        text(source.and_then(|s| s.version.as_ref())),
        text(request.and_then(|r| r.operation.as_ref())),
        request
            .and_then(|r| r.response_code)
            .map(|c| c.to_string())
            .unwrap_or_default(),
        request
            .and_then(|r| r.latency_ms)
            .map(|c| c.to_string())
            .unwrap_or_default(),
        json(request.and_then(|r| r.params.as_ref())),
        json(event.metadata.as_ref()),
    ]
}

fn csv_header() -> Bytes {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let _ = writer.write_record(CSV_COLUMNS);
    Bytes::from(writer.into_inner().unwrap_or_default())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Ndjson,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Ndjson => "ndjson",
        }
    }
}

/// Where the stream is: the next page's cursor, and how many events went out.
struct Progress {
    cursor: Option<String>,
    sent: usize,
    /// The count the record states: never more go out.
    cap: usize,
    done: bool,
}

/// How many events the view holds, up to [`MAX_DOWNLOAD_EVENTS`].
async fn count(state: &AppState, tenant: &str, query: &EventQuery) -> Result<usize, RefusalPage> {
    let mut cursor: Option<String> = None;
    let mut counted = 0;
    loop {
        let page = read_page(state, tenant, query, cursor.as_deref())
            .await
            .map_err(|e| RefusalPage::new(e.status, e.message))?;
        counted += page.rows.len();
        if counted >= MAX_DOWNLOAD_EVENTS || page.next_cursor.is_none() {
            return Ok(counted.min(MAX_DOWNLOAD_EVENTS));
        }
        cursor = page.next_cursor;
    }
}

async fn next_chunk(
    state: &AppState,
    tenant: &str,
    query: &EventQuery,
    format: Format,
    mut progress: Progress,
) -> Option<(Result<Bytes, std::io::Error>, Progress)> {
    if progress.done || progress.sent >= progress.cap {
        return None;
    }
    let page = match read_page(state, tenant, query, progress.cursor.as_deref()).await {
        Ok(page) => page,
        // Headers are gone already: ending the body early is the only way to say it failed.
        Err(e) => {
            return Some((
                Err(std::io::Error::other(e.message)),
                Progress {
                    done: true,
                    ..progress
                },
            ));
        }
    };
    let room = progress.cap - progress.sent;
    let rows = page.rows.iter().take(room);
    let out = match format {
        Format::Ndjson => {
            let mut out = Vec::new();
            for row in rows {
                out.extend_from_slice(row.json.as_bytes());
                out.push(b'\n');
            }
            out
        }
        // One writer for the page: the CSV quoting state is per record, not per writer.
        Format::Csv => {
            let mut writer = csv::Writer::from_writer(Vec::new());
            for row in rows {
                if let Ok(event) = serde_json::from_str::<Event>(&row.json) {
                    let _ = writer.write_record(csv_cells(&event));
                }
            }
            writer.into_inner().unwrap_or_default()
        }
    };
    progress.sent += page.rows.len().min(room);
    progress.done = page.next_cursor.is_none();
    progress.cursor = page.next_cursor;
    Some((Ok(Bytes::from(out)), progress))
}

/// The download link of `query` in `format` (`csv` or `ndjson`).
pub fn download_url(query: &EventQuery, format: &str) -> String {
    let mut url = form_urlencoded::Serializer::new(String::new());
    url.append_pair("format", format);
    for (k, v) in super::form::query_pairs(query) {
        if k != "limit" {
            url.append_pair(k, &v);
        }
    }
    format!("/console/download?{}", url.finish())
}

/// `GET /console/download?format=csv|ndjson&<the list's filters>`.
pub async fn download(
    State(state): State<AppState>,
    viewer: Viewer,
    RequestOrigin(client): RequestOrigin,
    RawQuery(raw): RawQuery,
) -> Result<Response, RefusalPage> {
    let mut pairs = pairs_of(raw);
    let format = match pairs
        .iter()
        .find(|(k, _)| k == "format")
        .map(|(_, v)| v.as_str())
    {
        Some("csv") => Format::Csv,
        Some("ndjson") => Format::Ndjson,
        _ => {
            return Err(RefusalPage::new(
                StatusCode::BAD_REQUEST,
                "format is csv or ndjson",
            ));
        }
    };
    pairs.retain(|(k, _)| k != "format" && k != "cursor" && k != "back" && k != "limit");
    let now = (state.clock)();
    let request = parse_view(&pairs, now, &viewer.fixed).map_err(|problems| {
        let text: Vec<String> = problems
            .iter()
            .map(|p| format!("{}: {}", p.parameter, p.message))
            .collect();
        RefusalPage::new(StatusCode::BAD_REQUEST, text.join("; "))
    })?;
    // Pinned: `to` is exclusive, and every event stored so far was received at or before now.
    let pinned = Timestamp(now.0.saturating_add(1));
    let query = EventQuery {
        limit: PAGE,
        to: Some(request.query.to.map_or(pinned, |to| to.min(pinned))),
        ..request.query
    };
    let tenant = viewer.session.tenant.clone();
    let counted = count(&state, &tenant, &query).await?;
    let record = SelfEvent::new(
        SelfAction::ConsoleDownloaded,
        self_audit::viewer(&viewer.session),
    )
    .detail("format", format.name())
    .detail("filters", filters_of(&query))
    .detail("returned", counted)
    .origin(client);
    // Received at or after the pinned end, so the download never holds its own record.
    state
        .record_after(&tenant, record, pinned)
        .await
        .map_err(|e| RefusalPage::new(e.status, e.message))?;
    let (extension, content_type) = match format {
        Format::Csv => ("csv", "text/csv; charset=utf-8"),
        Format::Ndjson => ("ndjson", "application/x-ndjson"),
    };
    let first = match format {
        Format::Csv => csv_header(),
        Format::Ndjson => Bytes::new(),
    };
    let start = Progress {
        cursor: None,
        sent: 0,
        cap: counted,
        done: false,
    };
    let rest = futures::stream::unfold(start, move |progress| {
        let (state, tenant, query) = (state.clone(), tenant.clone(), query.clone());
        async move { next_chunk(&state, &tenant, &query, format, progress).await }
    });
    let stream = futures::stream::StreamExt::chain(
        futures::stream::iter([Ok::<_, std::io::Error>(first)]),
        rest,
    );
    let filename = format!(
        "attachment; filename=\"auditlog-{}-{}.{extension}\"",
        viewer.session.tenant,
        now.to_rfc3339().replace(':', "")
    );
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(&filename) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}
