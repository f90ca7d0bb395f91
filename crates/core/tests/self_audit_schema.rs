//! The service's own records are events like any other: whatever a path, a header or a name
//! carried into one (control characters, any length), the stored record meets the stored-event
//! schema in `schemas/event.v1.json` that every reader and exporter relies on.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use auditlog_core::Timestamp;
use auditlog_core::self_audit::{Caller, Origin, SelfAction, SelfEvent};
use proptest::prelude::*;
use serde_json::{Value, json};

fn stored_event_schema() -> jsonschema::Validator {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/event.v1.json");
    let mut schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    schema["$ref"] = json!("#/$defs/stored_event");
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap()
}

fn caller(kind: u8, text: &str) -> Caller {
    match kind % 3 {
        0 => Caller::Key {
            key_id: text.to_string(),
        },
        1 => Caller::Viewer {
            session_id: text.to_string(),
            display_name: Some(text.to_string()),
        },
        _ => Caller::Operator {
            user: text.to_string(),
            host: text.to_string(),
        },
    }
}

proptest! {
    #[test]
    fn records_meet_the_stored_event_schema(
        text in ".{0,300}",
        control in "[\u{0}-\u{1f}\u{7f}-\u{9f}]{0,3}",
        kind in 0u8..3,
        action in 0usize..SelfAction::ALL.len(),
        ip in prop::option::of(any::<std::net::IpAddr>()),
    ) {
        let hostile = format!("{control}{text}{control}");
        let record = SelfEvent::new(SelfAction::ALL[action], caller(kind, &hostile))
            .target("event", &hostile, Some(&hostile))
            .detail("path", hostile.clone())
            .origin(Origin {
                ip_address: ip.map(|ip| ip.to_string()),
                user_agent: Some(hostile.clone()),
                request_id: Some(hostile.clone()),
            })
            .into_event("acme", "01JRECORD".into(), Timestamp(1_795_305_600_000), 86_400_000);
        let stored: Value = serde_json::from_str(&record.json).unwrap();
        let errors: Vec<String> = stored_event_schema()
            .iter_errors(&stored)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        prop_assert!(errors.is_empty(), "{errors:?} in {stored}");
    }
}
