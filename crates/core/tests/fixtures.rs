//! Validation against the shared fixtures in `tests/fixtures/`: every rule of the v1 model with
//! the JSON pointer of each error, the mapped records of other audit systems, and the JSON Schema
//! in `schemas/event.v1.json` agreeing with the validator.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::path::PathBuf;

use auditlog_core::Timestamp;
use auditlog_core::ingest::{PreparedItem, RequestError, Shape, parse_body, prepare_items};
use auditlog_core::redact::Redactor;
use auditlog_core::validate::{
    FieldError, IngestContext, Limits, PreparedEvent, check_action, prepare_event,
};
use serde_json::{Value, json};

const NOW: Timestamp = Timestamp(1_795_305_600_000); // 2026-11-22T00:00:00Z

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

fn read_json(path: &str) -> Value {
    let text = std::fs::read_to_string(fixtures().join(path)).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn read_ndjson(path: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(fixtures().join(path)).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn context<'a>(limits: &'a Limits, redactor: &'a Redactor) -> IngestContext<'a> {
    IngestContext {
        tenant: "acme",
        received_at: NOW,
        limits,
        redactor,
    }
}

fn prepare_with(value: Value, limits: &Limits) -> Result<PreparedEvent, Vec<FieldError>> {
    let redactor = Redactor::default();
    let ctx = context(limits, &redactor);
    prepare_event(value, "", &ctx, &mut || "01GENERATEDID".to_string())
}

fn prepare(value: Value) -> Result<PreparedEvent, Vec<FieldError>> {
    prepare_with(value, &Limits::default())
}

fn schema_validator(root_ref: &str) -> jsonschema::Validator {
    let mut schema = read_json("../../schemas/event.v1.json");
    schema["$ref"] = json!(format!("#/$defs/{root_ref}"));
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap()
}

/// Every valid payload we ship: hand-written examples and the mapped foreign records.
fn valid_payloads() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for dir in ["valid", "mapped"] {
        let mut entries: Vec<_> = std::fs::read_dir(fixtures().join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if name.ends_with(".ndjson") {
                for (i, v) in read_ndjson(&format!("{dir}/{name}"))
                    .into_iter()
                    .enumerate()
                {
                    out.push((format!("{name}:{}", i + 1), v));
                }
            } else {
                out.push((name.clone(), read_json(&format!("{dir}/{name}"))));
            }
        }
    }
    assert!(out.len() >= 14, "fixtures missing: {}", out.len());
    out
}

#[test]
fn every_invalid_case_names_each_field_with_its_reason() {
    let cases = read_json("invalid-events.json");
    for case in cases.as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let errors = prepare(case["event"].clone()).expect_err(name);
        let expected: Vec<(&str, &str)> = case["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["pointer"].as_str().unwrap(),
                    e["contains"].as_str().unwrap(),
                )
            })
            .collect();
        let pointers: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
        let wanted: Vec<&str> = expected.iter().map(|(p, _)| *p).collect();
        assert_eq!(pointers, wanted, "{name}: {errors:?}");
        for (error, (_, contains)) in errors.iter().zip(&expected) {
            assert!(
                error.message.contains(contains),
                "{name}: `{}` lacks `{contains}`",
                error.message
            );
        }
    }
}

#[test]
fn schema_rejects_what_the_validator_rejects() {
    let schema = schema_validator("event");
    for case in read_json("invalid-events.json").as_array().unwrap() {
        if case["schema_rejects"].as_bool().unwrap() {
            assert!(
                !schema.is_valid(&case["event"]),
                "schema accepted: {}",
                case["name"]
            );
        }
    }
}

#[test]
fn valid_payloads_pass_the_schema_and_the_validator_and_store_in_the_stored_schema() {
    let input_schema = schema_validator("event");
    let stored_schema = schema_validator("stored_event");
    for (name, payload) in valid_payloads() {
        let errors: Vec<String> = input_schema
            .iter_errors(&payload)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{name} fails the schema: {errors:?}");
        let prepared = prepare(payload).unwrap_or_else(|e| panic!("{name} rejected: {e:?}"));
        let stored: Value = serde_json::from_str(&prepared.json).unwrap();
        let errors: Vec<String> = stored_schema
            .iter_errors(&stored)
            .map(|e| e.to_string())
            .collect();
        assert!(
            errors.is_empty(),
            "{name} stored form fails the schema: {errors:?}"
        );
        // The stored form reads back into the typed model unchanged: the prepared event holds
        // the typed fields, its free-form objects only in the stored form.
        let mut back: auditlog_core::Event = serde_json::from_str(&prepared.json).unwrap();
        assert_eq!(prepared.event.metadata, None, "{name}");
        back.metadata = None;
        if let Some(request) = back.request.as_mut() {
            assert_eq!(prepared.event.request.as_ref().unwrap().params, None);
            request.params = None;
        }
        assert_eq!(back, prepared.event, "{name}");
    }
}

#[test]
fn server_fields_and_defaults_are_filled_in() {
    let p = prepare(read_json("valid/minimal.json")).unwrap();
    let e = &p.event;
    assert_eq!(
        (e.id.as_str(), e.tenant.as_str(), e.schema_version),
        ("01GENERATEDID", "acme", 1)
    );
    assert_eq!((e.received_at, e.occurred_at), (NOW, NOW));
    assert_eq!(e.outcome, auditlog_core::event::Outcome::Unknown);
    assert_eq!(e.actor.kind, auditlog_core::event::ActorType::User);
    assert_eq!(
        p.json,
        r#"{"schema_version":1,"id":"01GENERATEDID","tenant":"acme","received_at":"2026-11-22T00:00:00.000Z","occurred_at":"2026-11-22T00:00:00.000Z","action":"user.login","actor":{"id":"u_123","type":"user"},"outcome":"unknown"}"#
    );
}

#[test]
fn set_password_keeps_uid_and_masks_the_new_password() {
    let p = prepare(read_json("valid/set-password.json")).unwrap();
    assert_eq!(p.redacted, 1);
    let stored: Value = serde_json::from_str(&p.json).unwrap();
    let params = &stored["request"]["params"];
    assert_eq!(params["uid"], "u_42");
    assert_eq!(params["newPassword"], "[REDACTED]");
    assert!(!p.json.contains("correct horse"));
}

#[test]
fn full_event_masks_params_and_metadata() {
    let p = prepare(read_json("valid/full.json")).unwrap();
    assert_eq!(p.redacted, 2, "deployToken and headers.Authorization");
    assert!(!p.json.contains("ghp_notarealtoken") && !p.json.contains("Bearer abc"));
    assert!(p.json.contains(r#""Accept":"application/json""#));
    assert_eq!(p.event.occurred_at.to_rfc3339(), "2026-11-21T09:15:30.250Z");
}

#[test]
fn clock_skew_is_bounded_and_configurable() {
    let in_four_minutes = Timestamp(NOW.0 + 4 * 60_000).to_rfc3339();
    let in_six_minutes = Timestamp(NOW.0 + 6 * 60_000).to_rfc3339();
    assert!(
        prepare(json!({"action": "a.b", "actor": {"id": "x"}, "occurred_at": in_four_minutes}))
            .is_ok()
    );
    let errors = prepare(
        json!({"action": "a.b", "actor": {"id": "x"}, "occurred_at": in_six_minutes.clone()}),
    )
    .unwrap_err();
    assert_eq!(errors[0].pointer, "/occurred_at");
    let lenient = Limits {
        max_future_skew_ms: 10 * 60_000,
        ..Limits::default()
    };
    assert!(
        prepare_with(
            json!({"action": "a.b", "actor": {"id": "x"}, "occurred_at": in_six_minutes}),
            &lenient
        )
        .is_ok()
    );
}

#[test]
fn free_json_and_whole_event_sizes_are_bounded() {
    let big = "x".repeat(17 * 1024);
    let errors = prepare(json!({"action": "a.b", "actor": {"id": "x"}, "metadata": {"note": big}}))
        .unwrap_err();
    assert_eq!(errors[0].pointer, "/metadata");
    assert!(
        errors[0].message.contains("at most 16384"),
        "{}",
        errors[0].message
    );

    let errors = prepare(
        json!({"action": "a.b", "actor": {"id": "x"}, "request": {"params": {"note": big}}}),
    )
    .unwrap_err();
    assert_eq!(errors[0].pointer, "/request/params");

    let mut deep = json!(1);
    for _ in 0..17 {
        deep = json!({ "d": deep });
    }
    let errors =
        prepare(json!({"action": "a.b", "actor": {"id": "x"}, "metadata": deep})).unwrap_err();
    assert!(
        errors[0].message.contains("17 levels"),
        "{}",
        errors[0].message
    );

    // Each part within its own bound, the whole event over 32 KiB.
    let targets: Vec<Value> = (0..64)
        .map(|i| json!({"id": format!("{i:0>250}"), "name": "n".repeat(256)}))
        .collect();
    let errors =
        prepare(json!({"action": "a.b", "actor": {"id": "x"}, "targets": targets})).unwrap_err();
    assert_eq!(errors[0].pointer, "");
    assert!(
        errors[0].message.contains("limit is 32768 bytes"),
        "{}",
        errors[0].message
    );
}

#[test]
fn published_logger_record_gets_a_precise_parse_error() {
    let body = std::fs::read(fixtures().join("foreign/logger-record.as-published.txt")).unwrap();
    match parse_body(&body, &Limits::default()) {
        Err(RequestError::MalformedJson {
            message,
            line,
            column,
        }) => {
            assert_eq!(message, "trailing comma");
            assert_eq!((line, column), (18, 1));
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
}

#[test]
fn envelope_errors_reject_the_whole_request() {
    let limits = Limits {
        max_events_per_request: 3,
        max_request_bytes: 200,
        ..Limits::default()
    };
    let cases: Vec<(&[u8], &str)> = vec![
        (b"", "empty_body"),
        (b"  \n", "empty_body"),
        (b"[1,2]", "invalid_envelope"),
        (b"\"text\"", "invalid_envelope"),
        (br#"{"events": {}}"#, "invalid_envelope"),
        (br#"{"events": [], "extra": 1}"#, "invalid_envelope"),
        (br#"{"events": []}"#, "empty_batch"),
        (br#"{"events": [{}, {}, {}, {}]}"#, "too_many_events"),
        (br#"{"action": "#, "malformed_json"),
    ];
    for (body, code) in cases {
        let err = parse_body(body, &limits).unwrap_err();
        assert_eq!(err.code(), code, "{}", String::from_utf8_lossy(body));
    }
    let oversize = vec![b' '; 201];
    assert_eq!(
        parse_body(&oversize, &limits).unwrap_err().code(),
        "body_too_large"
    );
}

#[test]
fn batch_items_are_judged_one_by_one_with_absolute_pointers() {
    let body = br#"{"events": [{"action": "user.login", "actor": {"id": "a"}}, {"action": "nope", "actor": {"id": "b"}, "id": "client-2"}]}"#;
    let (limits, redactor) = (Limits::default(), Redactor::default());
    let (shape, items) = parse_body(body, &limits).unwrap();
    assert_eq!(shape, Shape::Batch);
    let ctx = context(&limits, &redactor);
    let mut n = 0;
    let prepared = prepare_items(shape, items, &ctx, &mut || {
        n += 1;
        format!("gen-{n}")
    });
    assert!(matches!(&prepared[0], PreparedItem::Valid(p) if p.event.id == "gen-1"));
    match &prepared[1] {
        PreparedItem::Rejected { id, errors } => {
            assert_eq!(id.as_deref(), Some("client-2"));
            assert_eq!(errors[0].pointer, "/events/1/action");
        }
        other => panic!("{other:?}"),
    }
}

/// The mapping rule documented in docs/event-schema.md: lowercase, then the first `_` becomes
/// the namespace dot. It must give a valid, distinct action for every type of every catalogue.
fn map_type(name: &str) -> String {
    name.to_ascii_lowercase().replacen('_', ".", 1)
}

#[test]
fn foreign_event_catalogues_map_to_valid_distinct_actions() {
    for (file, header) in [
        ("idp-event-types.tsv", true),
        ("logger-event-ids.txt", true),
        ("app-event-types.txt", false),
    ] {
        let text = std::fs::read_to_string(fixtures().join("foreign").join(file)).unwrap();
        let mut lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        if header {
            lines.remove(0);
        }
        let mut seen = std::collections::HashSet::new();
        for line in lines {
            let name = line.split('\t').next().unwrap().trim();
            let action = map_type(name);
            check_action(&action).unwrap_or_else(|e| panic!("{file}: {name} → {action}: {e}"));
            assert!(
                seen.insert(action.clone()),
                "{file}: {action} is not distinct"
            );
        }
        assert!(seen.len() >= 40, "{file}: only {} types", seen.len());
    }
    assert_eq!(map_type("USER_LOGIN"), "user.login");
    assert_eq!(map_type("db_query"), "db.query");
}

#[test]
fn graphql_request_log_maps_field_for_field() {
    let originals = read_ndjson("foreign/request-log.ndjson");
    let mapped = read_ndjson("mapped/graphql-request-log.ndjson");
    assert_eq!(originals.len(), mapped.len());
    for (o, m) in originals.iter().zip(&mapped) {
        assert_eq!(m["occurred_at"], o["createdAt"]);
        assert_eq!(m["actor"]["email"], o["userEmail"]);
        assert_eq!(m["request"]["operation"], o["nameHints"][0]);
        assert_eq!(m["request"]["params"], o["requestParams"]);
        assert_eq!(m["request"]["response_code"], o["responseCode"]);
        assert_eq!(m["request"]["latency_ms"], o["latencyInMillis"]);
        assert_eq!(m["metadata"]["request_payload"], o["requestPayload"]);
        assert_eq!(
            m["action"],
            format!("graphql.{}", o["opType"].as_str().unwrap().to_lowercase())
        );
    }
}

/// The typed fast path and the `Value` walker give identical results on every fixture, valid
/// or not, single or batched.
#[test]
fn fast_and_slow_paths_agree_on_every_fixture() {
    let (limits, redactor) = (Limits::default(), Redactor::default());
    let ctx = context(&limits, &redactor);
    let mut items: Vec<Value> = valid_payloads().into_iter().map(|(_, v)| v).collect();
    for case in read_json("invalid-events.json").as_array().unwrap() {
        items.push(case["event"].clone());
    }
    let mut bodies: Vec<Vec<u8>> = items
        .iter()
        .map(|v| serde_json::to_vec(v).unwrap())
        .collect();
    bodies.push(serde_json::to_vec(&json!({ "events": items })).unwrap());
    bodies.push(std::fs::read(fixtures().join("foreign/logger-record.as-published.txt")).unwrap());
    bodies.push(br#"{"events": [], "x": 1}"#.to_vec());
    bodies.push(br#" {"events": [{"action": "a.b", "actor": {"id": "x"}}]} trailing"#.to_vec());
    // serde reads a struct from an array too; a body that is an array is still refused.
    bodies.push(br#"[[{"action": "a.b", "actor": {"id": "x"}}]]"#.to_vec());
    bodies.push(
        br#"{"events": [{"action": "a.b", "actor": {"id": "x"}}], "events": [{"action": "c.d", "actor": {"id": "y"}}]}"#
            .to_vec(),
    );
    // A batch whose middle item does not read as an event: the ones around it are kept.
    bodies.push(
        br#"{"events": [{"action": "a.b", "actor": {"id": "x"}}, {"action": 7}, {"action": "Bad", "actor": {"id": "y"}}, {"action": "c.d", "actor": {"id": "z"}, "metadata": {"k": 1, "k": 2}}]}"#
            .to_vec(),
    );
    let over: Vec<Value> = (0..=limits.max_events_per_request)
        .map(|i| json!({"action": "a.b", "actor": {"id": format!("u{i}")}}))
        .collect();
    bodies.push(serde_json::to_vec(&json!({ "events": over })).unwrap());
    for body in bodies {
        let fast = auditlog_core::ingest::prepare_request(&body, &ctx, &mut || "GEN".into());
        let slow = parse_body(&body, &limits)
            .map(|(shape, items)| prepare_items(shape, items, &ctx, &mut || "GEN".into()));
        assert_eq!(fast, slow, "{}", String::from_utf8_lossy(&body));
    }
}
