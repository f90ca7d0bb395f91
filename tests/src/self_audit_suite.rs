//! Self-audit on every store: each read, change and refusal leaves exactly one `auditlog.`
//! event in the tenant's own stream, with the right actor, action, targets and outcome, and a
//! change cannot be stored without its record.

use auditlog_core::Timestamp;
use auditlog_core::export::{Destination, Target};
use auditlog_core::keys::KeyRecord;
use auditlog_core::self_audit::{SelfAction, SelfEvent, key_created, key_revoked};
use auditlog_core::store::{AppendStatus, StoreError};
use serde_json::{Value, json};

use crate::console_suite::{issue, open, page};
use crate::{TestService, harness_operator, operator_record};

pub use crate::key_api_suite::keys_are_managed_over_the_api_and_recorded;

/// The id of a key (`alk_<id>_<secret>`).
pub(crate) fn key_id(key: &str) -> String {
    key.split('_').nth(1).expect("key id").to_string()
}

/// The tenant's records of `action`, oldest first. The read that fetches them is recorded
/// after its page is read, so it never shows in its own answer.
pub(crate) async fn records(s: &TestService, key: &str, action: &str) -> Vec<Value> {
    // A listing's own record is stamped just after the end of the view it pinned (its `until`,
    // now + 1 ms), so a listing in the same millisecond cannot see it yet: wait that out.
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    s.all_pages(key, &format!("action={action}&limit=1000"))
        .await
}

/// The one record of `action`, asserting there is exactly one.
pub(crate) async fn only(s: &TestService, key: &str, action: &str) -> Value {
    let found = records(s, key, action).await;
    assert_eq!(found.len(), 1, "{action}: {found:#?}");
    found.into_iter().next().expect("one")
}

pub(crate) fn assert_service_record(record: &Value) {
    assert_eq!(record["source"]["service"], "auditlog", "{record}");
    assert_eq!(record["schema_version"], 1);
}

pub async fn reads_are_recorded_once_per_request(s: &TestService) {
    let key = s.key("acme", "write,read").await;
    let events: Vec<Value> = (1..=3)
        .map(|i| json!({"id": format!("r-{i}"), "action": "doc.viewed", "actor": {"id": "u1"}}))
        .collect();
    let (status, _) = s.post_events(&key, &json!({ "events": events })).await;
    assert_eq!(status, 201);

    let response = s
        .client
        .get(s.url("/v1/events?action=doc.viewed&limit=2&order=desc"))
        .bearer_auth(&key)
        .header("user-agent", "audit-suite/1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(s.get(Some(&key), "/v1/events/r-1").await.0, 200);
    assert_eq!(s.get(Some(&key), "/v1/events/nope").await.0, 404);

    let listed = only(s, &key, "auditlog.events.listed").await;
    assert_service_record(&listed);
    assert_eq!(listed["tenant"], "acme");
    assert_eq!(
        listed["actor"],
        json!({"id": key_id(&key), "type": "service", "name": "API key"})
    );
    assert_eq!(listed["outcome"], "success");
    assert_eq!(
        listed["metadata"],
        json!({"filters": {"action": "doc.viewed"}, "order": "desc", "continued": false,
               "returned": 2, "more": true, "via": "api_key"})
    );
    assert_eq!(listed["context"]["ip_address"], "127.0.0.1");
    assert_eq!(listed["context"]["user_agent"], "audit-suite/1");
    assert_eq!(listed["context"]["request_id"], request_id.as_str());
    assert!(listed.get("targets").is_none());

    let reads = records(s, &key, "auditlog.event.read").await;
    assert_eq!(reads.len(), 2, "{reads:#?}");
    assert_eq!(reads[0]["targets"], json!([{"id": "r-1", "type": "event"}]));
    assert_eq!(reads[0]["outcome"], "success");
    assert_eq!(reads[0]["metadata"]["returned"], 1);
    assert_eq!(
        reads[1]["targets"],
        json!([{"id": "nope", "type": "event"}])
    );
    assert_eq!(reads[1]["outcome"], "failure");
    assert_eq!(reads[1]["metadata"]["returned"], 0);

    // The reads of the records were recorded too, one each: the first listing and the two
    // reads of records before this one.
    assert_eq!(records(s, &key, "auditlog.events.listed").await.len(), 3);
    // Another tenant's reads never land here.
    let other = s.key("globex", "read").await;
    assert_eq!(s.get(Some(&other), "/v1/events").await.0, 200);
    let listed = records(s, &key, "auditlog.events.listed").await;
    assert!(listed.iter().all(|r| r["tenant"] == "acme"));
    assert!(
        listed
            .iter()
            .all(|r| r["actor"]["id"] != key_id(&other).as_str())
    );
}

pub async fn destination_changes_are_recorded_without_secrets(s: &TestService) {
    let admin = s.key("acme", "admin").await;
    let reader = s.key("acme", "read").await;
    let response = s
        .client
        .post(s.url("/v1/destinations"))
        .bearer_auth(&admin)
        .json(&json!({"bucket": "acme-audit", "role_arn": "arn:aws:iam::111122223333:role/audit-writer",
            "external_id": "ext-not-for-logs-7"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let removed = s
        .client
        .delete(s.url(&format!("/v1/destinations/{id}")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 204);

    let target =
        json!([{"id": id, "type": "destination", "name": "s3://acme-audit/user-events-audit/"}]);
    for action in ["auditlog.destination.added", "auditlog.destination.removed"] {
        let record = only(s, &reader, action).await;
        assert_service_record(&record);
        assert_eq!(record["actor"]["id"], key_id(&admin).as_str(), "{action}");
        assert_eq!(record["targets"], target, "{action}");
        assert_eq!(record["metadata"]["destination_kind"], "s3");
        assert_eq!(
            record["metadata"]["role_arn"],
            "arn:aws:iam::111122223333:role/audit-writer"
        );
        assert!(
            !record.to_string().contains("ext-not-for-logs-7"),
            "the external id is not recorded: {record}"
        );
    }
}

pub async fn refused_keys_of_the_tenant_are_recorded(s: &TestService) {
    let reader = s.key("acme", "read").await;
    let writer = s.key("acme", "write").await;
    // A valid key without the scope.
    let (status, _) = s.get(Some(&writer), "/v1/events").await;
    assert_eq!(status, 403);
    let refused = only(s, &reader, "auditlog.access.refused").await;
    assert_service_record(&refused);
    assert_eq!(refused["actor"]["id"], key_id(&writer).as_str());
    assert_eq!(refused["outcome"], "failure");
    assert_eq!(
        refused["metadata"],
        json!({"reason": "insufficient_scope", "required_scope": "read", "method": "GET",
               "path": "/v1/events", "via": "api_key"})
    );

    // A wrong secret for a real key id, or an unknown key, names no tenant: nothing recorded.
    let wrong = format!("{}x", &writer[..writer.len() - 1]);
    assert_eq!(s.post_events(&wrong, &json!({})).await.0, 401);
    assert_eq!(
        records(s, &reader, "auditlog.access.refused").await.len(),
        1
    );

    // A revoked key with its right secret is recorded.
    let id = key_id(&writer);
    let record = s.store.find_key(&id).await.unwrap().unwrap();
    let audit = operator_record("acme", key_revoked(harness_operator(), &record), s.now().0);
    assert!(s.store.revoke_key(&id, s.now(), &audit).await.unwrap());
    let (status, _) = s
        .post_events(
            &writer,
            &json!({"action": "doc.viewed", "actor": {"id": "u"}}),
        )
        .await;
    assert_eq!(status, 401);
    let refusals = records(s, &reader, "auditlog.access.refused").await;
    assert_eq!(refusals.len(), 2, "{refusals:#?}");
    assert_eq!(refusals[1]["metadata"]["reason"], "revoked_key");
    assert_eq!(refusals[1]["metadata"]["method"], "POST");
    let revoked = only(s, &reader, "auditlog.key.revoked").await;
    assert_eq!(revoked["targets"][0]["id"], id.as_str());
    assert_eq!(revoked["actor"]["id"], "tests@harness");
    assert_eq!(revoked["metadata"]["via"], "cli");
}

pub async fn viewer_sessions_and_console_reads_are_recorded(s: &TestService) {
    let admin = s.key("acme", "write,admin").await;
    let reader = s.key("acme", "read").await;
    s.post_events(
        &admin,
        &json!({"id": "c-1", "action": "billing.paid", "actor": {"id": "u_42"}}),
    )
    .await;
    let (status, issued) = issue(
        s,
        &admin,
        json!({"display_name": "Grace (auditor)", "filter": {"action": "billing.*"}}),
    )
    .await;
    assert_eq!(status, 201, "{issued}");
    let session = issued["id"].as_str().unwrap().to_string();
    let path = issued["path"].as_str().unwrap().to_string();
    let (status, cookie, _, _) = open(s, &path, false).await;
    assert_eq!(status, 200);
    let cookie = cookie.unwrap();
    assert_eq!(open(s, &path, false).await.0, 403, "used once");
    assert_eq!(page(s, Some(&cookie), "/console/events").await.0, 200);
    assert_eq!(page(s, Some(&cookie), "/console/event?id=c-1").await.0, 200);
    let (status, _, csv) = page(s, Some(&cookie), "/console/download?format=csv").await;
    assert_eq!(status, 200);
    assert_eq!(csv.lines().count(), 2, "a header and c-1");
    let forged = format!("{}x", &cookie[..cookie.len() - 1]);
    assert_eq!(page(s, Some(&forged), "/console/events").await.0, 403);

    let viewer = json!({"id": session, "type": "user", "name": "Grace (auditor)"});
    let target = json!([{"id": session, "type": "viewer_session", "name": "Grace (auditor)"}]);
    let issued = only(s, &reader, "auditlog.viewer_session.issued").await;
    assert_eq!(issued["actor"]["id"], key_id(&admin).as_str());
    assert_eq!(issued["targets"], target);
    assert_eq!(issued["metadata"]["filter"], json!({"action": "billing.*"}));
    assert_eq!(issued["metadata"]["admin"], false);
    let opened = only(s, &reader, "auditlog.viewer_session.opened").await;
    assert_eq!(opened["actor"], viewer);
    assert_eq!(
        opened["metadata"]["issued_by"],
        format!("key:{}", key_id(&admin))
    );
    let refused = records(s, &reader, "auditlog.viewer_session.refused").await;
    assert_eq!(refused.len(), 2, "{refused:#?}");
    assert_eq!(refused[0]["metadata"]["presented"], "link");
    assert!(
        refused[0]["metadata"]["reason"]
            .as_str()
            .unwrap()
            .contains("already used")
    );
    assert_eq!(refused[1]["metadata"]["presented"], "cookie");
    assert!(
        refused
            .iter()
            .all(|r| r["outcome"] == "failure" && r["actor"] == viewer)
    );

    let listed = only(s, &reader, "auditlog.console.events_listed").await;
    assert_eq!(listed["actor"], viewer);
    assert_eq!(listed["metadata"]["returned"], 1);
    assert_eq!(
        listed["metadata"]["filters"]["action"], "billing.*",
        "the session's fixed filter is part of what was read"
    );
    let viewed = only(s, &reader, "auditlog.console.event_viewed").await;
    assert_eq!(viewed["targets"], json!([{"id": "c-1", "type": "event"}]));
    let downloaded = only(s, &reader, "auditlog.console.downloaded").await;
    assert_eq!(downloaded["metadata"]["format"], "csv");
    assert_eq!(downloaded["metadata"]["returned"], 1);
    assert_eq!(downloaded["metadata"]["filters"]["action"], "billing.*");
}

pub async fn forged_service_records_are_rejected(s: &TestService) {
    let key = s.key("acme", "write,read").await;
    let (status, answer) = s
        .post_events(
            &key,
            &json!({"events": [
                {"action": "auditlog.key.created", "actor": {"id": "mallory"}},
                {"action": "doc.viewed", "actor": {"id": "u"}}]}),
        )
        .await;
    assert_eq!(status, 207, "{answer}");
    let errors = &answer["items"][0]["errors"];
    assert_eq!(errors[0]["pointer"], "/events/0/action", "{answer}");
    assert!(
        errors[0]["message"].as_str().unwrap().contains("reserved"),
        "{answer}"
    );
    let made = records(s, &key, "auditlog.key.created").await;
    assert!(
        made.iter().all(|r| r["actor"]["id"] != "mallory"),
        "{made:#?}"
    );
}

/// A change whose record cannot be stored is not stored either: here the record's id is taken
/// already, so its conditional write fails, and the change must be rolled back with it.
pub async fn a_change_is_never_stored_without_its_record(s: &TestService) {
    let taken = "01JTAKENTAKENTAKENTAKENTAK";
    let blocker = operator_record(
        "acme",
        SelfEvent::new(SelfAction::EventsListed, harness_operator()),
        s.now().0,
    );
    let mut blocker = blocker;
    blocker.event.id = taken.into();
    blocker.json = blocker.event.to_json();
    let stored = s
        .store
        .append_events("acme", std::slice::from_ref(&blocker), s.now())
        .await
        .unwrap();
    assert_eq!(stored, [AppendStatus::Stored]);
    let with_taken_id = |record: SelfEvent| {
        let mut event = operator_record("acme", record, s.now().0);
        event.event.id = taken.into();
        event.json = event.event.to_json();
        event
    };

    let key = KeyRecord {
        key_id: "00112233445566ff".into(),
        tenant: "acme".into(),
        scopes: vec![auditlog_core::keys::Scope::Read],
        hash: "not-a-real-hash".into(),
        label: None,
        created_at: s.now(),
        revoked_at: None,
    };
    let failed = s
        .store
        .create_key(&key, &with_taken_id(key_created(harness_operator(), &key)))
        .await;
    assert!(failed.is_err(), "{failed:?}");
    assert_eq!(s.store.find_key(&key.key_id).await.unwrap(), None);

    let destination = Destination::new(
        "dst_atomic".into(),
        "acme".into(),
        Target::Directory {
            path: "/tmp/nowhere".into(),
            prefix: "p/".into(),
        },
        Timestamp(s.now().0),
    );
    let record =
        SelfEvent::new(SelfAction::DestinationAdded, harness_operator()).destination(&destination);
    let failed = s
        .store
        .add_destination(&destination, &with_taken_id(record))
        .await;
    assert!(
        matches!(
            failed,
            Err(StoreError::Conflict(_) | StoreError::Unavailable(_))
        ),
        "{failed:?}"
    );
    assert!(
        s.store
            .list_destinations(Some("acme"))
            .await
            .unwrap()
            .is_empty(),
        "no destination without its record"
    );

    // And a key that exists is not revoked without its record.
    let live = s.key("acme", "read").await;
    let live_id = key_id(&live);
    let record = s.store.find_key(&live_id).await.unwrap().unwrap();
    let failed = s
        .store
        .revoke_key(
            &live_id,
            s.now(),
            &with_taken_id(key_revoked(harness_operator(), &record)),
        )
        .await;
    assert!(failed.is_err(), "{failed:?}");
    assert_eq!(s.get(Some(&live), "/v1/events").await.0, 200, "still live");
}

/// Every page read is recorded, yet paging ends, even one event per page: a paging session is
/// pinned to its first page, and the records of its reads come after its end.
pub async fn paging_ends_although_each_page_is_recorded(s: &TestService) {
    let key = s.key("acme", "write,read").await;
    let events: Vec<Value> = (1..=3)
        .map(|i| json!({"id": format!("pg-{i}"), "action": "doc.viewed", "actor": {"id": "u"}}))
        .collect();
    assert_eq!(
        s.post_events(&key, &json!({ "events": events })).await.0,
        201
    );
    let first = s.all_pages(&key, "limit=1").await;
    let actions: Vec<&str> = first
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "auditlog.key.created",
            "doc.viewed",
            "doc.viewed",
            "doc.viewed"
        ],
        "the session holds what existed when it began"
    );
    // The next session sees the first one's four page reads, each recorded once.
    let second = s.all_pages(&key, "limit=1").await;
    assert_eq!(second.len(), 8, "{second:#?}");
    assert_eq!(second[..4], first[..]);
    let pages: Vec<bool> = second[4..]
        .iter()
        .map(|e| {
            assert_eq!(e["action"], "auditlog.events.listed");
            e["metadata"]["continued"].as_bool().unwrap()
        })
        .collect();
    assert_eq!(pages, [false, true, true, true]);
}
