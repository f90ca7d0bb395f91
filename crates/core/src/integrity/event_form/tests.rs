#![allow(clippy::unwrap_used)]
use proptest::prelude::*;

use super::*;
use crate::event::{Actor, ActorType, CompactString, Context, Outcome, Source, Target};
use crate::integrity::receipt;
use crate::time::Timestamp;

/// The hand-written writers agree with serde: the stored JSON with the derived `Serialize`, the
/// typed receipt with the receipt of that JSON.
fn agrees(event: &Event) -> Result<(), TestCaseError> {
    prop_assert_eq!(event.to_json(), serde_json::to_string(event).unwrap());
    let expected = receipt(&event.to_json()).unwrap();
    prop_assert_eq!(event_receipt(event).unwrap(), expected);
    Ok(())
}

/// Keys that sort differently by UTF-8 and by UTF-16 (U+E000.. against astral characters) too.
fn object(values: impl Strategy<Value = Value>) -> impl Strategy<Value = Map<String, Value>> {
    let key = prop_oneof![any::<String>(), "[a-c\u{e000}\u{1f600}\"\\\\]{0,3}"];
    prop::collection::vec((key, values), 0..4).prop_map(|m| m.into_iter().collect())
}

fn text() -> impl Strategy<Value = CompactString> {
    prop_oneof![
        any::<String>(),
        "[a-z\"\\\\\u{0}-\u{1f}\u{7f}é\u{2028}]{0,6}"
    ]
    .prop_map(CompactString::from)
}

prop_compose! {
    fn actor()(id in text(), kind in 0..3usize, email in proptest::option::of(text()),
               name in proptest::option::of(text())) -> Actor {
        Actor { id, kind: ActorType::ALL[kind].1, email, name }
    }
}

prop_compose! {
    fn target()(id in text(), kind in proptest::option::of(text()),
                name in proptest::option::of(text())) -> Target {
        Target { id, kind, name }
    }
}

prop_compose! {
    fn context()(ip_address in proptest::option::of(text()), user_agent in proptest::option::of(text()),
                 request_id in proptest::option::of(text()), session_id in proptest::option::of(text()),
                 location in proptest::option::of(text())) -> Context {
        Context { ip_address, user_agent, request_id, session_id, location }
    }
}

prop_compose! {
    fn source()(service in proptest::option::of(text()), environment in proptest::option::of(text()),
                version in proptest::option::of(text())) -> Source {
        Source { service, environment, version }
    }
}

prop_compose! {
    fn request()(operation in proptest::option::of(text()),
                 params in proptest::option::of(object(crate::validate::tests::arbitrary_json())),
                 response_code in proptest::option::of(any::<u16>()),
                 latency_ms in proptest::option::of(prop_oneof![any::<u64>(), 0..1000u64])) -> Request {
        Request { operation, params, response_code, latency_ms }
    }
}

prop_compose! {
    fn event()(id in text(), tenant in text(), action in text(), actor in actor(),
               received in any::<i64>(), occurred in any::<i64>(), outcome in 0..3usize,
               targets in prop::collection::vec(target(), 0..3),
               context in proptest::option::of(context()), source in proptest::option::of(source()),
               request in proptest::option::of(request()),
               metadata in proptest::option::of(object(crate::validate::tests::arbitrary_json()))) -> Event {
        Event {
            schema_version: crate::event::SCHEMA_VERSION,
            id, tenant,
            received_at: Timestamp(received % 400_000_000_000_000),
            occurred_at: Timestamp(occurred % 400_000_000_000_000),
            action, actor, outcome: Outcome::ALL[outcome].1, targets, context, source, request, metadata,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_typed_receipt_is_the_receipt_of_the_stored_json(event in event()) {
        agrees(&event)?;
    }
}

#[test]
fn every_member_present_and_every_member_absent() {
    let mut full = crate::event::sample("user.login", Outcome::Failure);
    full.actor.email = Some("a@example.com".into());
    full.actor.name = Some("Ann".into());
    full.targets = vec![Target {
        id: "t".into(),
        kind: Some("doc".into()),
        name: Some("Doc".into()),
    }];
    full.context = Some(Context {
        ip_address: Some("192.0.2.1".into()),
        user_agent: Some("ua".into()),
        request_id: Some("r".into()),
        session_id: Some("s".into()),
        location: Some("l".into()),
    });
    full.source = Some(Source {
        service: Some("svc".into()),
        environment: Some("prod".into()),
        version: Some("1".into()),
    });
    full.request = Some(Request {
        operation: Some("op".into()),
        params: Some(Map::new()),
        response_code: Some(200),
        latency_ms: Some(u64::MAX),
    });
    full.metadata = Some(Map::new());
    agrees(&full).unwrap();
    // Present but empty objects stay (`"context":{}`), as in the stored JSON.
    let mut empty = crate::event::sample("user.login", Outcome::Success);
    empty.context = Some(Context::default());
    empty.source = Some(Source::default());
    empty.request = Some(Request::default());
    agrees(&empty).unwrap();
}
