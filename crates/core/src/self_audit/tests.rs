use super::*;
use crate::validate::check_action;

fn key() -> Caller {
    Caller::Key {
        key_id: "3f9a0c1d2e3f4a5b".into(),
    }
}

#[test]
fn every_action_is_a_distinct_reserved_dotted_name() {
    let mut names: Vec<&str> = SelfAction::ALL.iter().map(|a| a.name()).collect();
    for name in &names {
        assert!(is_self_audit(name), "{name}");
        // The shape rule alone: the reserved prefix is exactly what check_action refuses.
        let refusal = check_action(name).expect_err(name);
        assert!(
            matches!(refusal, crate::validate::RuleError::ReservedAction(_)),
            "{name}: {refusal}"
        );
        let outside = name.replacen("auditlog.", "x.", 1);
        assert!(check_action(&outside).is_ok(), "{outside}");
    }
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), SelfAction::ALL.len());
}

#[test]
fn an_event_names_the_caller_target_details_and_origin() {
    let record = SelfEvent::new(SelfAction::KeyRevoked, key())
        .target("api_key", "0123456789abcdef", Some("ci"))
        .detail("scopes", json!(["write"]))
        .origin(Origin {
            ip_address: Some("203.0.113.7".into()),
            user_agent: Some("curl/8".into()),
            request_id: Some("req-1".into()),
        })
        .into_event("acme", "01JSELF".into(), Timestamp(1_000), 5_000);
    let e = &record.event;
    assert_eq!(e.action, "auditlog.key.revoked");
    assert_eq!(e.tenant, "acme");
    assert_eq!(e.actor.id, "3f9a0c1d2e3f4a5b");
    assert_eq!(e.actor.kind, ActorType::Service);
    assert_eq!(e.outcome, Outcome::Success);
    assert_eq!(e.targets[0].id, "0123456789abcdef");
    assert_eq!(e.targets[0].kind.as_deref(), Some("api_key"));
    assert_eq!(e.received_at, Timestamp(1_000));
    assert_eq!(record.expires_at, Timestamp(6_000));
    let context = e.context.as_ref().expect("context");
    assert_eq!(context.ip_address.as_deref(), Some("203.0.113.7"));
    assert_eq!(context.user_agent.as_deref(), Some("curl/8"));
    let metadata = e.metadata.as_ref().expect("metadata");
    assert_eq!(metadata["via"], "api_key");
    assert_eq!(metadata["scopes"], json!(["write"]));
    let stored: Event = serde_json::from_str(&record.json).expect("stored json");
    assert_eq!(&stored, e);
}

#[test]
fn callers_become_actors_without_secrets() {
    let viewer = Caller::Viewer {
        session_id: "00aa11bb22cc33dd".into(),
        display_name: Some("Grace (auditor)".into()),
    };
    let operator = Caller::Operator {
        user: "ops".into(),
        host: "bastion".into(),
    };
    assert_eq!(viewer.actor().name.as_deref(), Some("Grace (auditor)"));
    assert_eq!(viewer.actor().kind, ActorType::User);
    assert_eq!(viewer.via(), "viewer_session");
    assert_eq!(operator.actor().id, "ops@bastion");
    assert_eq!(operator.reference(), "operator:ops@bastion");
    assert_eq!(key().reference(), "key:3f9a0c1d2e3f4a5b");
}

#[test]
fn header_values_are_bounded() {
    let long = "a".repeat(5_000);
    let record = SelfEvent::new(SelfAction::EventsListed, key())
        .origin(Origin {
            ip_address: Some(long.clone()),
            user_agent: Some(long.clone()),
            request_id: Some(long.clone()),
        })
        .into_event("acme", "01J".into(), Timestamp(0), 1);
    let context = record.event.context.expect("context");
    assert_eq!(context.ip_address.map(|s| s.len()), Some(64));
    assert_eq!(context.user_agent.map(|s| s.len()), Some(1024));
    assert_eq!(context.request_id.map(|s| s.len()), Some(128));
}

#[test]
fn no_origin_means_no_context() {
    let record = SelfEvent::new(SelfAction::KeyCreated, key())
        .outcome(Outcome::Failure)
        .into_event("acme", "01J".into(), Timestamp(0), 1);
    assert!(record.event.context.is_none());
    assert_eq!(record.event.outcome, Outcome::Failure);
}

#[test]
fn a_destination_record_names_its_filter_format_and_compression_when_not_the_default() {
    use crate::export::{Compression, Destination, Target};
    use crate::stream::filter::{Filter, Side};
    use crate::stream::format::Format;
    let mut destination = Destination::new(
        "dst_1".into(),
        "acme".into(),
        Target::Directory {
            path: "/srv/audit".into(),
            prefix: "p/".into(),
        },
        Timestamp(0),
    );
    let metadata = |d: &Destination| {
        SelfEvent::new(SelfAction::DestinationAdded, key())
            .destination(d)
            .into_event("acme", "01JSELF".into(), Timestamp(1_000), 5_000)
            .event
            .metadata
            .expect("metadata")
    };
    let plain = metadata(&destination);
    for absent in ["filter", "format", "compression"] {
        assert!(!plain.contains_key(absent), "{absent}: {plain:?}");
    }
    destination.filter = Some(Filter {
        include: Side {
            actions: vec!["user.*".into()],
            outcomes: vec![],
        },
        exclude: Side::default(),
    });
    destination.format = Format::Ocsf;
    destination.compression = Compression::Zstd;
    let chosen = metadata(&destination);
    assert_eq!(
        chosen["filter"],
        json!({"include": {"actions": ["user.*"]}})
    );
    assert_eq!(chosen["format"], "ocsf");
    assert_eq!(chosen["compression"], "zstd");
}
