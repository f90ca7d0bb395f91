//! The OpenAPI 3.1 document of the whole API, generated from the code: every route is added
//! through `utoipa_axum`'s `routes!`, which takes its description from the handler's
//! `#[utoipa::path]`, so a route cannot exist without one. The event's schemas are not
//! restated here: they are `schemas/event.v1.json`'s own `$defs`, moved into
//! `components.schemas` (see `event_schemas`), so the two can never drift.
//!
//! `GET /v1/openapi.json` serves the document; `auditlog openapi` prints it, and
//! `docs/openapi.json` is that output, checked by a test.

use std::sync::LazyLock;

use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};

/// The JSON Schema of the event, as published in `schemas/`.
const EVENT_SCHEMA: &str = include_str!("../../../schemas/event.v1.json");

#[derive(OpenApi)]
#[openapi(
    info(
        title = "auditlog",
        description = "Records what the users of a product do and keeps those records for the \
            security teams who must trust them. Semantics (paging, idempotency, retention, \
            receipts) are in docs/api.md; this document gives the shapes.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    modifiers(&BearerKeys),
    tags(
        (name = "events", description = "Send, query and fetch audit events."),
        (name = "destinations", description = "A tenant's export destinations (`admin` scope)."),
        (name = "keys", description = "A tenant's API keys (`admin` scope)."),
        (name = "console", description = "One-time links to the console (`admin` scope)."),
        (name = "integrity", description = "What verifiers need; public."),
        (name = "service", description = "Health and this document; public."),
    )
)]
struct ApiDoc;

/// The one security scheme: `Authorization: Bearer alk_...`. An operation names the scope it
/// needs in its security requirement (OpenAPI 3.1 allows role names for non-OAuth schemes).
struct BearerKeys;

impl Modify for BearerKeys {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("alk_<key id>_<secret>")
                    .description(Some(
                        "An API key of one tenant, with the scopes `write`, `read` and/or \
                         `admin` (`auditlog keys create`).",
                    ))
                    .build(),
            ),
        );
    }
}

/// The document's skeleton: info, tags, the security scheme. The routes add the paths.
pub fn base() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The filters of `GET /v1/events` (docs/api.md). Unknown or repeated parameters are refused.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // a description only: the handler parses the raw query itself
pub struct EventFilters {
    /// `received_at` from (inclusive): RFC 3339, or epoch milliseconds.
    #[param(min_length = 1)]
    from: Option<String>,
    /// `received_at` to (exclusive): RFC 3339, or epoch milliseconds.
    #[param(min_length = 1)]
    to: Option<String>,
    /// Exact (`user.login`), or a prefix ending in `.*` (`user.*`).
    #[param(min_length = 1)]
    action: Option<String>,
    #[param(min_length = 1)]
    actor_id: Option<String>,
    #[param(min_length = 1)]
    actor_email: Option<String>,
    /// Matches any of the event's targets.
    #[param(min_length = 1)]
    target_id: Option<String>,
    #[param(inline)]
    outcome: Option<auditlog_core::event::Outcome>,
    #[param(min_length = 1)]
    source_service: Option<String>,
    /// Page size; default 100.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// `asc` (oldest first, the default) or `desc`.
    #[param(inline)]
    order: Option<Order>,
    /// The previous page's `next_cursor`, with the same filters and order.
    #[param(min_length = 1)]
    cursor: Option<String>,
}

#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum Order {
    Asc,
    Desc,
}

/// A page of `GET /v1/events`.
#[derive(Serialize, ToSchema)]
pub struct EventPage {
    /// The stored events, in the requested order.
    #[schema(schema_with = stored_events)]
    events: Vec<Value>,
    /// Pass as `cursor` for the next page; null on the last page.
    next_cursor: Option<String>,
}

fn stored_events() -> utoipa::openapi::Array {
    utoipa::openapi::ArrayBuilder::new()
        .items(utoipa::openapi::Ref::from_schema_name("StoredEvent"))
        .build()
}

/// The name a `$defs` entry of the event schema gets in `components.schemas`.
fn component_name(def: &str) -> String {
    match def {
        "event" => "Event".to_string(),
        "stored_event" => "StoredEvent".to_string(),
        other => {
            let camel: String = other
                .split('_')
                .map(|part| {
                    let mut chars = part.chars();
                    chars
                        .next()
                        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                        .unwrap_or_default()
                })
                .collect();
            format!("Event{camel}")
        }
    }
}

/// Points every `#/$defs/x` reference at its component.
fn rewrite_refs(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get_mut("$ref")
                && let Some(def) = target.strip_prefix("#/$defs/")
            {
                *target = format!("#/components/schemas/{}", component_name(def));
            }
            map.values_mut().for_each(rewrite_refs);
        }
        Value::Array(items) => items.iter_mut().for_each(rewrite_refs),
        _ => {}
    }
}

/// The event schema's `$defs` as components, plus the body of `POST /v1/events`.
fn event_schemas(max_batch: usize) -> Result<Map<String, Value>, serde_json::Error> {
    let schema: Value = serde_json::from_str(EVENT_SCHEMA)?;
    let mut out = Map::new();
    if let Some(Value::Object(defs)) = schema.get("$defs") {
        for (name, def) in defs {
            let mut def = def.clone();
            rewrite_refs(&mut def);
            out.insert(component_name(name), def);
        }
    }
    out.insert(
        "EventsRequest".into(),
        json!({
            "description": "One event, or a batch. Items are judged one by one: valid ones are \
                stored even when others are rejected (207).",
            "oneOf": [
                {"$ref": "#/components/schemas/Event"},
                {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["events"],
                    "properties": {"events": {
                        "type": "array", "minItems": 1, "maxItems": max_batch,
                        "items": {"$ref": "#/components/schemas/Event"}
                    }}
                }
            ]
        }),
    );
    Ok(out)
}

/// Links from what a creation answers to the operations that read it back, so a client (and
/// Schemathesis's stateful phase) knows where an id goes: (path, method, status, links).
fn links() -> [(&'static str, &'static str, &'static str, Value); 3] {
    [
        (
            "/v1/events",
            "post",
            "201",
            json!({"GetEvent": {
                "operationId": "get_event",
                "parameters": {"id": "$response.body#/items/0/id"},
                "description": "The first item's event, as stored."
            }}),
        ),
        (
            "/v1/destinations",
            "post",
            "201",
            json!({
                "GetDestinationStatus": {
                    "operationId": "destination_status",
                    "parameters": {"id": "$response.body#/id"}
                },
                "PauseDestination": {
                    "operationId": "pause_destination",
                    "parameters": {"id": "$response.body#/id"}
                },
                "ResumeDestination": {
                    "operationId": "resume_destination",
                    "parameters": {"id": "$response.body#/id"}
                },
                "RemoveDestination": {
                    "operationId": "remove_destination",
                    "parameters": {"id": "$response.body#/id"}
                }
            }),
        ),
        (
            "/v1/streams",
            "post",
            "201",
            json!({
                "GetStreamStatus": {
                    "operationId": "stream_status",
                    "parameters": {"id": "$response.body#/id"}
                },
                "PauseDestination": {
                    "operationId": "pause_destination",
                    "parameters": {"id": "$response.body#/id"}
                },
                "ResumeDestination": {
                    "operationId": "resume_destination",
                    "parameters": {"id": "$response.body#/id"}
                },
                "RemoveDestination": {
                    "operationId": "remove_destination",
                    "parameters": {"id": "$response.body#/id"}
                }
            }),
        ),
    ]
}

/// The whole document as JSON: the routes' descriptions with the event schemas and the links
/// added. utoipa marks a body given by reference as optional: the events body is required.
pub fn document(api: utoipa::openapi::OpenApi) -> Value {
    let mut doc = serde_json::to_value(api).unwrap_or(Value::Null);
    let events = event_schemas(auditlog_core::validate::Limits::default().max_events_per_request)
        .unwrap_or_default();
    if let Some(Value::Object(schemas)) = doc.pointer_mut("/components/schemas") {
        schemas.extend(events);
    }
    if let Some(body) = doc.pointer_mut("/paths/~1v1~1events/post/requestBody") {
        body["required"] = json!(true);
    }
    for (path, method, status, links) in links() {
        let pointer = format!(
            "/paths/{}/{method}/responses/{status}",
            path.replace('/', "~1")
        );
        if let Some(response) = doc.pointer_mut(&pointer) {
            response["links"] = links;
        }
    }
    doc
}

/// The served document, made once.
pub static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    let (_, api) = crate::api_router().split_for_parts();
    serde_json::to_string_pretty(&document(api)).unwrap_or_default()
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defs_become_components_and_every_ref_resolves() {
        let doc: Value = serde_json::from_str(&DOCUMENT).unwrap_or(Value::Null);
        assert_eq!(doc["openapi"], "3.1.0");
        let mut refs = Vec::new();
        collect_refs(&doc, &mut refs);
        assert!(refs.iter().any(|r| r == "#/components/schemas/StoredEvent"));
        for (path, method, status, _) in links() {
            let pointer = format!(
                "/paths/{}/{method}/responses/{status}/links",
                path.replace('/', "~1")
            );
            assert!(doc.pointer(&pointer).is_some(), "no links at {pointer}");
        }
        assert_eq!(
            doc.pointer("/paths/~1v1~1events/post/requestBody/required"),
            Some(&json!(true))
        );
        for r in refs {
            let pointer = r.trim_start_matches('#');
            assert!(doc.pointer(pointer).is_some(), "{r} does not resolve");
        }
    }

    fn collect_refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    out.push(r.clone());
                }
                map.values().for_each(|v| collect_refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn component_names() {
        assert_eq!(component_name("timestamp_in"), "EventTimestampIn");
        assert_eq!(component_name("stored_event"), "StoredEvent");
    }
}
