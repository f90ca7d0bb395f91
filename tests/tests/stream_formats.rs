//! The stream formats against their published definitions: every fixture event (ours, and the
//! ones mapped from other vendors' catalogues), and events made to reach every OCSF class and
//! activity, written as OCSF and checked against the OCSF 1.5.0 schema of their class
//! (`ocsf-json-schema` + `jsonschema`, tests/support/ocsf/check.py); and written as ECS and
//! checked against Elastic's ECS field definitions (`@elastic/ecs`, tests/support/ecs/check.mjs).
//! Each checker is also shown a broken record, which it must refuse.
//!
//! Needs scripts/stream-tools.sh (sets `AUDITLOG_OCSF_PYTHON` and `AUDITLOG_ECS_TOOLS`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::io::Write;
use std::process::{Command, Stdio};

use auditlog_core::Event;
use auditlog_core::ingest::{PreparedItem, prepare_request};
use auditlog_core::redact::Redactor;
use auditlog_core::stream::ecs::to_ecs;
use auditlog_core::stream::format::{Format, render};
use auditlog_core::stream::ocsf::{OcsfMapping, to_ocsf};
use auditlog_core::time::Timestamp;
use auditlog_core::validate::{IngestContext, Limits};
use auditlog_tests::{fixtures, valid_fixture_events};
use serde_json::{Value, json};

/// Every event of the fixtures, and events that reach each class and activity, with and
/// without the optional parts.
fn events() -> Vec<(Event, String)> {
    let mut inputs = valid_fixture_events();
    let actions = [
        "user.login",
        "user.logout",
        "user.created",
        "user.enabled",
        "user.password_changed",
        "user.password_reset",
        "user.disabled",
        "user.deleted",
        "user.locked",
        "user.unlocked",
        "user.mfa_enabled",
        "user.mfa_disabled",
        "user.exported",
        "account.suspended",
        "doc.created",
        "doc.viewed",
        "doc.updated",
        "doc.deleted",
        "invoice.paid",
    ];
    for (i, action) in actions.iter().enumerate() {
        let outcome = ["success", "failure", "unknown"][i % 3];
        let mut event =
            json!({"action": action, "actor": {"id": format!("u{i}")}, "outcome": outcome});
        if i % 2 == 0 {
            event["targets"] = json!([{"id": "t1", "type": "user", "name": "T"}, {"id": "d1", "type": "document"}]);
            event["context"] = json!({"ip_address": "2001:db8::1", "user_agent": "ua/1", "request_id": "r", "session_id": "s", "location": "Paris"});
            event["source"] = json!({"service": "svc", "environment": "prod", "version": "1.2"});
            event["request"] = json!({"operation": "op", "params": {"a": 1}, "response_code": 200, "latency_ms": 5});
            event["metadata"] = json!({"k": "v"});
            let kind = ["user", "service", "system"][i % 3];
            event["actor"]["type"] = json!(kind);
        }
        inputs.push(event);
    }
    let body = json!({ "events": inputs }).to_string();
    let (limits, redactor) = (Limits::default(), Redactor::default());
    let ctx = IngestContext {
        tenant: "acme",
        received_at: Timestamp(auditlog_tests::now_ms()),
        limits: &limits,
        redactor: &redactor,
    };
    let mut n = 0;
    let mut fresh = || {
        n += 1;
        format!("gen-{n}")
    };
    prepare_request(body.as_bytes(), &ctx, &mut fresh)
        .unwrap()
        .into_iter()
        .map(|item| match item {
            PreparedItem::Valid(p) => (p.event, p.json),
            PreparedItem::Rejected { errors, .. } => panic!("a fixture is invalid: {errors:?}"),
        })
        .collect()
}

/// Runs a checker on NDJSON; its summary and whether it passed.
fn run_checker(mut command: Command, lines: &[String]) -> (bool, String) {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the checker (source scripts/stream-tools.sh)");
    {
        let mut stdin = child.stdin.take().unwrap();
        for line in lines {
            writeln!(stdin, "{line}").unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), printed)
}

fn ocsf_checker() -> Command {
    let python = std::env::var("AUDITLOG_OCSF_PYTHON").expect("source scripts/stream-tools.sh");
    let mut command = Command::new(python);
    command.arg(fixtures().join("../support/ocsf/check.py"));
    command
}

fn ecs_checker() -> Command {
    let tools = std::env::var("AUDITLOG_ECS_TOOLS").expect("source scripts/stream-tools.sh");
    let mut command = Command::new("node");
    command
        .arg(format!("{tools}/check.mjs"))
        .args(["--custom", "auditlog"]);
    command
}

#[test]
fn ocsf_records_follow_the_published_schema_of_their_class() {
    let events = events();
    let mapping = OcsfMapping::default();
    let lines: Vec<String> = events
        .iter()
        .map(|(e, json)| render(e, json, Format::Ocsf, &mapping))
        .collect();
    // Every class and many activities are reached.
    let records: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut classes: Vec<u64> = records
        .iter()
        .map(|r| r["class_uid"].as_u64().unwrap())
        .collect();
    classes.sort_unstable();
    classes.dedup();
    assert_eq!(classes, [3001, 3002, 6003]);
    let activities = records
        .iter()
        .map(|r| r["type_uid"].as_u64().unwrap())
        .collect::<std::collections::BTreeSet<_>>();
    assert!(activities.len() >= 15, "{activities:?}");

    let (ok, printed) = run_checker(ocsf_checker(), &lines);
    assert!(ok, "{printed}");
    assert!(
        printed.contains(&format!("\"checked\": {}", lines.len())),
        "{printed}"
    );

    // The checker refuses what the schema refuses: no user in an Authentication record, and a
    // member the class does not define.
    let mut broken = to_ocsf(&events[0].0, &mapping);
    broken["class_uid"] = json!(3002);
    broken["category_uid"] = json!(3);
    broken["type_uid"] = json!(300201);
    broken["activity_id"] = json!(1);
    broken.as_object_mut().unwrap().remove("user");
    broken["not_ocsf"] = json!(true);
    let (ok, printed) = run_checker(ocsf_checker(), &[broken.to_string()]);
    assert!(!ok, "{printed}");
    assert!(
        printed.contains("'user' is a required property"),
        "{printed}"
    );
    assert!(printed.contains("not_ocsf"), "{printed}");
}

#[test]
fn ecs_documents_use_only_ecs_fields_of_their_types() {
    let events = events();
    let lines: Vec<String> = events
        .iter()
        .map(|(e, json)| render(e, json, Format::Ecs, &OcsfMapping::default()))
        .collect();
    let (ok, printed) = run_checker(ecs_checker(), &lines);
    assert!(ok, "{printed}");
    assert!(
        printed.contains(&format!("\"checked\":{}", lines.len())),
        "{printed}"
    );
    let first: Value = serde_json::from_str(&lines[1]).unwrap();
    assert_eq!(first["event"]["id"], events[1].0.id.as_str());

    let mut broken = to_ecs(&events[1].0);
    broken["event"]["outcome"] = json!("maybe");
    broken["event"]["category"] = json!("api");
    broken["made_up"] = json!({"field": 1});
    let (ok, printed) = run_checker(ecs_checker(), &[broken.to_string()]);
    assert!(!ok, "{printed}");
    for expected in [
        "event.outcome",
        "event.category: ECS keeps it as an array",
        "made_up.field",
    ] {
        assert!(printed.contains(expected), "{expected}: {printed}");
    }
}

#[test]
fn v1_is_the_stored_event_as_is() {
    for (event, json) in events() {
        assert_eq!(
            render(&event, &json, Format::V1, &OcsfMapping::default()),
            json
        );
    }
}
