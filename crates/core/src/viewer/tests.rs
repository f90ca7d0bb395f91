use proptest::prelude::*;

use super::*;
use crate::event::{Event, Source, Target};

fn request(filter: FixedFilter) -> SessionRequest {
    SessionRequest {
        tenant: "acme".into(),
        filter,
        display_name: Some("Ada".into()),
        admin: false,
        issued_by: "key:0011223344556677".into(),
        lifetime_ms: DEFAULT_LIFETIME_MS,
    }
}

#[test]
fn a_link_opens_once_and_its_cookie_lasts_until_expiry() {
    let now = Timestamp(1_000_000);
    let issued = issue(request(FixedFilter::default()), [1; 8], [2; 32], now);
    let link = issued.link_token.clone();
    assert_eq!(session_id_of(LINK_PREFIX, &link), Some("0101010101010101"));
    assert!(
        !issued.session.link_hash.contains(&link[4..]),
        "no token stored"
    );
    assert_eq!(check_link(&issued.session, &link, now), Ok(()));
    let forged = format!("{}x", &link[..link.len() - 1]);
    assert_eq!(
        check_link(&issued.session, &forged, now),
        Err(Refusal::Forged)
    );
    let late = Timestamp(now.0 + DEFAULT_LIFETIME_MS);
    assert_eq!(
        check_link(&issued.session, &link, late),
        Err(Refusal::Expired)
    );

    let (open, cookie) = opened(&issued.session, [3; 32], now);
    assert_eq!(check_link(&open, &link, now), Err(Refusal::Used));
    assert_eq!(check_cookie(&open, &cookie, now), Ok(()));
    assert_eq!(check_cookie(&open, &link, now), Err(Refusal::Forged));
    assert_eq!(
        check_cookie(&issued.session, &cookie, now),
        Err(Refusal::Forged)
    );
    assert_eq!(check_cookie(&open, &cookie, late), Err(Refusal::Expired));
    assert_eq!(
        session_id_of(LINK_PREFIX, &cookie),
        None,
        "a cookie is no link"
    );
}

#[test]
fn requests_are_checked_field_by_field() {
    let mut bad = request(FixedFilter {
        action: Some("*".into()),
        ..FixedFilter::default()
    });
    bad.lifetime_ms = MAX_LIFETIME_MS + 1;
    bad.display_name = Some("a\u{7}".into());
    let pointers: Vec<String> = check_request(&bad)
        .into_iter()
        .map(|e| e.parameter)
        .collect();
    assert_eq!(pointers, ["/expires_in", "/display_name", "/filter/action"]);
    assert!(check_request(&request(FixedFilter::default())).is_empty());
}

#[test]
fn a_fixed_filter_fills_in_and_refuses_widening() {
    let fixed = FixedFilter {
        action: Some("billing.*".into()),
        actor_id: Some("u_42".into()),
        ..FixedFilter::default()
    }
    .to_query()
    .unwrap();
    let mut asked = EventQuery::default();
    narrow(&fixed, &mut asked).unwrap();
    assert_eq!(asked.actor_id.as_deref(), Some("u_42"));
    assert_eq!(asked.action, Some(ActionFilter::Prefix("billing.".into())));

    let mut narrower = EventQuery {
        action: Some(ActionFilter::Exact("billing.paid".into())),
        ..EventQuery::default()
    };
    narrow(&fixed, &mut narrower).unwrap();

    let mut wider = EventQuery {
        action: Some(ActionFilter::Prefix("user.".into())),
        actor_id: Some("u_43".into()),
        ..EventQuery::default()
    };
    let refused: Vec<String> = narrow(&fixed, &mut wider)
        .unwrap_err()
        .into_iter()
        .map(|e| e.parameter)
        .collect();
    assert_eq!(refused, ["actor_id", "action"]);
}

fn event(action: &str, actor: &str, target: &str, service: &str, outcome: Outcome) -> Event {
    let mut event = crate::event::sample(action, outcome);
    event.actor.id = actor.into();
    event.actor.email = Some(format!("{actor}@example.com").into());
    event.targets = vec![Target {
        id: target.into(),
        kind: None,
        name: None,
    }];
    event.source = Some(Source {
        service: Some(service.into()),
        environment: None,
        version: None,
    });
    event
}

fn action_filter() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        "(a|b)\\.(a|b)(\\.(a|b))?".prop_map(Some),
        "(a|b)\\.((a|b)\\.)?\\*".prop_map(Some),
    ]
}

fn value() -> impl Strategy<Value = Option<String>> {
    prop::option::of("[xy]")
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        Just(Outcome::Success),
        Just(Outcome::Failure),
        Just(Outcome::Unknown)
    ]
}

fn filter() -> impl Strategy<Value = FixedFilter> {
    (
        action_filter(),
        value(),
        value(),
        value(),
        prop::option::of(outcome()),
    )
        .prop_map(
            |(action, actor_id, target_id, source_service, outcome)| FixedFilter {
                action,
                actor_id,
                actor_email: None,
                target_id,
                outcome,
                source_service,
            },
        )
}

proptest! {
    /// Whatever a viewer asks for, a narrowed query never shows an event the fixed filter
    /// hides.
    #[test]
    fn a_narrowed_query_never_shows_more_than_the_fixed_filter(
        fixed in filter(),
        asked in filter(),
        action in "(a|b)\\.(a|b)(\\.(a|b))?",
        actor in "[xy]",
        target in "[xy]",
        service in "[xy]",
        outcome in outcome(),
    ) {
        let fixed = fixed.to_query().unwrap();
        let mut asked = asked.to_query().unwrap();
        let event = event(&action, &actor, &target, &service, outcome);
        if narrow(&fixed, &mut asked).is_ok() && asked.matches(&event) {
            prop_assert!(fixed.matches(&event));
        }
    }
}
