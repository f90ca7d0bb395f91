//! The stream delivery suite, run on every store (`stream_tests!`): the real delivery pass and
//! HTTP client against the receivers of [`crate::receivers`], each enforcing its protocol, with
//! injected faults. Secrets are files in a temporary directory (references, as the operator
//! gives them).

use std::sync::Arc;
use std::time::Duration;

use auditlog_core::Timestamp;
use auditlog_core::export::{Destination, Target};
use auditlog_core::store::{ExportStore, NewEvent, ServiceStore};
use auditlog_core::stream::address::AddressPolicy;
use auditlog_core::stream::delivery::{self, StreamConfig};
use auditlog_core::stream::status::Condition;
use auditlog_core::stream::target::{Author, stream_settings};
use auditlog_core::stream::webhook::WebhookSecret;
use auditlog_core::validate::{IngestContext, Limits, prepare_event};
use auditlog_export::deliver::{StreamClient, stream_pass, stream_status};
use serde_json::{Value, json};

use crate::receivers::{Fault, Protocol, Receiver};
use crate::{Backend, RETENTION_MS, add_destination, now_ms};

pub const OPEN: AddressPolicy = AddressPolicy {
    allow_http: true,
    allow_private: true,
};

pub struct StreamRig {
    pub store: Arc<dyn ServiceStore>,
    pub client: StreamClient,
    pub config: StreamConfig,
    pub secrets: tempfile::TempDir,
    _keep: Box<dyn std::any::Any + Send>,
}

pub async fn rig(backend: &dyn Backend) -> StreamRig {
    let (store, keep) = backend.fresh_store().await;
    StreamRig {
        store,
        client: StreamClient::new(OPEN, Duration::from_millis(1500)).expect("client"),
        config: StreamConfig {
            owner: format!("suite-{}", rand::random::<u32>()),
            settle_ms: 0,
            budget: Duration::from_secs(5),
            retry_base: Duration::from_millis(20),
            retry_cap: Duration::from_millis(200),
            concurrency: 4,
        },
        secrets: tempfile::tempdir().expect("tempdir"),
        _keep: keep,
    }
}

impl StreamRig {
    /// Writes a secret file and returns its path.
    pub fn secret(&self, name: &str, value: &str) -> String {
        let path = self.secrets.path().join(name);
        std::fs::write(&path, value).expect("write secret");
        path.to_string_lossy().to_string()
    }

    /// Adds a stream for `tenant` from its description (as `auditlog streams add` does).
    pub async fn add(&self, tenant: &str, body: Value) -> Destination {
        let settings = stream_settings(&body, Author::Operator, OPEN)
            .unwrap_or_else(|p| panic!("stream {body}: {p:?}"));
        let destination = Destination::new(
            format!("dst_{}", ulid::Ulid::new().to_string().to_lowercase()),
            tenant.into(),
            Target::Stream(Box::new(settings)),
            Timestamp(now_ms()),
        );
        add_destination(self.store.as_ref(), &destination).await;
        destination
    }

    pub async fn pass(&self) -> Vec<auditlog_export::deliver::StreamReport> {
        let store: &dyn ExportStore = self.store.as_ref();
        stream_pass(store, &self.client, &self.config, Timestamp(now_ms()))
            .await
            .expect("stream pass")
    }

    /// Passes until `done` holds (a failing batch waits for its short backoff in between).
    pub async fn pass_until(&self, what: &str, done: impl Fn() -> bool) {
        let mut last = Vec::new();
        for _ in 0..300 {
            last = self.pass().await;
            if done() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
        let store: &dyn ExportStore = self.store.as_ref();
        let mut statuses = Vec::new();
        for d in self.store.list_destinations(None).await.expect("list") {
            statuses.push(stream_status(store, &d, RETENTION_MS, Timestamp(now_ms())).await);
        }
        panic!("{what}: not done after 300 passes; the last pass: {last:?}; {statuses:?}");
    }

    pub async fn status(
        &self,
        destination: &Destination,
    ) -> auditlog_core::stream::status::StreamStatus {
        let store: &dyn ExportStore = self.store.as_ref();
        stream_status(store, destination, RETENTION_MS, Timestamp(now_ms()))
            .await
            .expect("status")
    }

    /// A control as a person gives it (with its record).
    pub async fn control(
        &self,
        destination: &Destination,
        change: impl Fn(&delivery::StreamState) -> delivery::StreamState,
    ) {
        let stored = self
            .store
            .stream_state(&destination.id)
            .await
            .expect("state");
        let record = crate::operator_record(
            &destination.tenant,
            auditlog_core::self_audit::SelfEvent::new(
                auditlog_core::self_audit::SelfAction::DestinationPaused,
                crate::harness_operator(),
            )
            .destination(destination),
            now_ms(),
        );
        assert!(
            self.store
                .change_stream_state(&change(&stored), stored.version, &record)
                .await
                .expect("change")
        );
    }
}

/// Stores events `{prefix}-{i}` for `tenant` with `action(i)`, in receive order of their ids;
/// returns the ids.
pub async fn ingest(
    store: &dyn ServiceStore,
    tenant: &str,
    prefix: &str,
    n: usize,
    action: impl Fn(usize) -> String,
) -> Vec<String> {
    let limits = Limits::default();
    let redactor = auditlog_core::redact::Redactor::default();
    // Received now (a stream already past earlier records, such as its own addition's, must
    // see them after those), 1 ms apart per hundred.
    let start = now_ms();
    let mut ids = Vec::new();
    for (k, chunk) in (0..n).collect::<Vec<_>>().chunks(100).enumerate() {
        let received_at = start + k as i64;
        let ctx = IngestContext {
            tenant,
            received_at: Timestamp(received_at),
            limits: &limits,
            redactor: &redactor,
        };
        let events: Vec<NewEvent> = chunk
            .iter()
            .map(|&i| {
                let id = format!("{prefix}-{i:05}");
                ids.push(id.clone());
                let body = json!({"id": id, "action": action(i), "actor": {"id": "u1", "email": "u1@example.com"},
                    "outcome": if i % 7 == 0 { "failure" } else { "success" },
                    "source": {"service": "billing"},
                    "context": {"ip_address": "203.0.113.9", "user_agent": "suite"}});
                let p = prepare_event(body, "", &ctx, &mut || unreachable!()).expect("valid");
                NewEvent::prepared(p, Timestamp(received_at + RETENTION_MS))
            })
            .collect();
        store
            .append_events(tenant, &events, Timestamp(received_at))
            .await
            .expect("append");
    }
    // The suite's events share a receive time per 100: ids order them within it.
    ids.sort();
    ids
}

fn webhook_body(rig: &StreamRig, receiver: &Receiver, secret: &str) -> Value {
    json!({"webhook": {"url": format!("{}/hook", receiver.url), "secret_file": rig.secret(&format!("hook-{}", rand::random::<u32>()), secret)}})
}

pub fn new_secret() -> String {
    WebhookSecret::generate(rand::random())
}

fn assert_no_violations(receiver: &Receiver) {
    let violations = receiver.snapshot(|r| r.violations.clone());
    assert!(violations.is_empty(), "protocol violations: {violations:?}");
}

/// Through 429 with `Retry-After`, 500, a connection dropped mid-body, an answer lost after the
/// records were taken and an answer too slow for the timeout, every event arrives; after
/// receiver-side dedupe by id, exactly once and in receive order.
pub async fn every_event_arrives_in_order_through_faults(rig: &StreamRig) {
    let secret = new_secret();
    let receiver = Receiver::start(Protocol::Webhook {
        secret: secret.clone(),
    })
    .await;
    let ids = ingest(rig.store.as_ref(), "acme", "ev", 1200, |_| {
        "doc.update".into()
    })
    .await;
    for fault in [
        Fault::Status(429, Some("1")),
        Fault::Status(500, None),
        Fault::DropMidBody,
        Fault::LoseAnswer,
        Fault::Slow(Duration::from_millis(2000)),
        Fault::Status(503, None),
    ] {
        receiver.fault(fault);
    }
    let stream = rig.add("acme", webhook_body(rig, &receiver, &secret)).await;
    let expected = ids.clone();
    rig.pass_until("all delivered", || {
        receiver.snapshot(|r| r.first_arrivals()) == expected
    })
    .await;
    assert_no_violations(&receiver);
    let counts = receiver.snapshot(|r| r.counts());
    assert!(
        counts.values().any(|&n| n > 1),
        "a lost answer must bring repeats (at least once): {:?}",
        counts.values().max()
    );
    let status = rig.status(&stream).await;
    assert_eq!(status.condition, Condition::Active, "{status:?}");
    assert_eq!(status.backlog, None, "{status:?}");
    assert!(status.delivered >= 1200, "{status:?}");
}

/// A 401 stops that stream with the error and a hint, while another stream of the tenant
/// delivers everything; once the receiver takes the secret, resume delivers the rest.
pub async fn a_refused_credential_stops_one_stream_only(rig: &StreamRig) {
    let secret = new_secret();
    let strict = Receiver::start(Protocol::Webhook {
        secret: new_secret(),
    })
    .await;
    let splunk = Receiver::start(Protocol::Splunk {
        token: "hec-token".into(),
    })
    .await;
    let ids = ingest(rig.store.as_ref(), "acme", "cr", 300, |_| {
        "doc.update".into()
    })
    .await;
    let refused = rig.add("acme", webhook_body(rig, &strict, &secret)).await;
    let hec = rig
        .add("acme", json!({"splunk": {"url": splunk.url, "token_file": rig.secret("hec", "hec-token"), "index": "audit"}}))
        .await;
    let expected = ids.clone();
    rig.pass_until("splunk has all", || {
        splunk.snapshot(|r| r.first_arrivals()) == expected
    })
    .await;
    let status = rig.status(&refused).await;
    assert_eq!(status.condition, Condition::Stopped, "{status:?}");
    let error = status.error.expect("an error");
    assert!(error.error.contains("401"), "{error:?}");
    assert!(error.hint.contains("secret reference"), "{error:?}");
    // The 300 events and the tenant's records of the two additions.
    assert_eq!(status.backlog.map(|b| b.events), Some(302));
    assert_eq!(strict.snapshot(|r| r.records.len()), 0);
    assert_no_violations(&splunk);
    let last = splunk.snapshot(|r| r.last_headers.clone());
    assert_eq!(
        last.get("authorization").map(String::as_str),
        Some("Splunk hec-token")
    );
    assert_eq!(rig.status(&hec).await.condition, Condition::Active);

    // Stopped stays stopped until a person acts, even when the receiver is fixed.
    strict.set_protocol(Protocol::Webhook {
        secret: secret.clone(),
    });
    rig.pass().await;
    assert_eq!(strict.snapshot(|r| r.records.len()), 0);
    rig.control(&refused, delivery::resume).await;
    rig.pass_until("resumed stream has all", || {
        strict.snapshot(|r| r.first_arrivals()) == expected
    })
    .await;
    assert_no_violations(&strict);
}

/// Pause keeps the checkpoint while the backlog grows; resume sends only what the filter
/// admits (the rest counts as handled); replay sends the admitted events again.
pub async fn pause_resume_replay_and_filters_do_what_they_say(rig: &StreamRig) {
    let secret = new_secret();
    let receiver = Receiver::start(Protocol::Webhook {
        secret: secret.clone(),
    })
    .await;
    let mut body = webhook_body(rig, &receiver, &secret);
    body["filter"] =
        json!({"include": {"actions": ["user.*"]}, "exclude": {"outcomes": ["failure"]}});
    body["format"] = json!("ocsf");
    let stream = rig.add("acme", body).await;
    rig.control(&stream, delivery::pause).await;
    let action = |i: usize| {
        if i.is_multiple_of(3) {
            "user.login".to_string()
        } else {
            "doc.viewed".to_string()
        }
    };
    let ids = ingest(rig.store.as_ref(), "acme", "pr", 600, action).await;
    rig.pass().await;
    let paused = rig.status(&stream).await;
    assert_eq!(paused.condition, Condition::Paused);
    // The 600 events, and the tenant's records of the stream's addition and pause.
    assert_eq!(paused.backlog.as_ref().map(|b| b.events), Some(602));
    assert_eq!(receiver.snapshot(|r| r.requests), 0);

    rig.control(&stream, delivery::resume).await;
    let admitted: Vec<String> = ids
        .iter()
        .filter(|id| {
            let i: usize = id[3..].parse().unwrap_or(0);
            i.is_multiple_of(3) && !i.is_multiple_of(7)
        })
        .cloned()
        .collect();
    rig.pass_until("admitted delivered", || {
        receiver.snapshot(|r| r.first_arrivals()) == admitted
    })
    .await;
    // Give the stream a pass more to move past the trailing filtered events.
    rig.pass().await;
    let resumed = rig.status(&stream).await;
    assert_eq!(resumed.backlog, None, "{resumed:?}");
    assert_eq!(resumed.delivered, admitted.len() as u64);
    // The records of the stream's addition, pause and resume are filtered out too.
    assert_eq!(resumed.filtered, (600 - admitted.len() + 3) as u64);
    let records = receiver.snapshot(|r| r.records.clone());
    assert!(
        records.iter().all(|(_, r)| r["class_uid"] == 3002),
        "OCSF Authentication records"
    );

    rig.control(&stream, |s| {
        delivery::replay(s, Timestamp(now_ms() - 3_600_000))
    })
    .await;
    rig.pass_until("replayed", || {
        receiver.snapshot(|r| r.counts()).values().all(|&n| n >= 2)
    })
    .await;
    let counts = receiver.snapshot(|r| r.counts());
    assert_eq!(
        counts.len(),
        admitted.len(),
        "a replay sends nothing the filter leaves out"
    );
    assert_no_violations(&receiver);
}

/// During a rotation the old and the new secret both sign: a receiver holding either verifies.
/// After the grace period only the new one signs.
pub async fn a_rotated_webhook_secret_verifies_during_its_grace(rig: &StreamRig) {
    let (old, new) = (new_secret(), new_secret());
    let receiver = Receiver::start(Protocol::Webhook {
        secret: old.clone(),
    })
    .await;
    let mut body = webhook_body(rig, &receiver, &new);
    body["webhook"]["previous_secret_file"] = json!(rig.secret("old", &old));
    body["webhook"]["previous_until"] = json!(Timestamp(now_ms() + 3_600_000).to_rfc3339());
    rig.add("acme", body).await;
    let first = ingest(rig.store.as_ref(), "acme", "ra", 50, |_| {
        "doc.update".into()
    })
    .await;
    rig.pass_until("old secret verifies", || {
        receiver.snapshot(|r| r.first_arrivals()) == first
    })
    .await;
    let signatures = receiver.snapshot(|r| r.last_headers.get("webhook-signature").cloned());
    assert_eq!(signatures.map(|s| s.split(' ').count()), Some(2));

    receiver.set_protocol(Protocol::Webhook {
        secret: new.clone(),
    });
    let second = ingest(rig.store.as_ref(), "acme", "rb", 50, |_| {
        "doc.update".into()
    })
    .await;
    let all: Vec<String> = first.iter().chain(&second).cloned().collect();
    rig.pass_until("new secret verifies", || {
        receiver.snapshot(|r| r.first_arrivals()) == all
    })
    .await;

    // Past the grace period: one signature, by the new secret.
    let receiver = Receiver::start(Protocol::Webhook {
        secret: new.clone(),
    })
    .await;
    let mut body = webhook_body(rig, &receiver, &new);
    body["webhook"]["previous_secret_file"] = json!(rig.secret("old2", &old));
    body["webhook"]["previous_until"] = json!(Timestamp(now_ms() - 1000).to_rfc3339());
    rig.add("zeta", body).await;
    let ids = ingest(rig.store.as_ref(), "zeta", "rc", 20, |_| {
        "doc.update".into()
    })
    .await;
    rig.pass_until("after the grace", || {
        receiver.snapshot(|r| r.first_arrivals()) == ids
    })
    .await;
    let signatures = receiver.snapshot(|r| r.last_headers.get("webhook-signature").cloned());
    assert_eq!(signatures.map(|s| s.split(' ').count()), Some(1));
}

/// Splunk HEC (v1), Datadog (ECS, gzip) and `_bulk` (OCSF; some items answered 429, then 409
/// for what was already indexed) each take every event of their tenant, and no other tenant's.
pub async fn every_target_takes_every_event_of_its_tenant_only(rig: &StreamRig) {
    let splunk = Receiver::start(Protocol::Splunk { token: "t1".into() }).await;
    let datadog = Receiver::start(Protocol::Datadog {
        api_key: "dd1".into(),
    })
    .await;
    let bulk = Receiver::start(Protocol::Bulk {
        api_key: "es1".into(),
    })
    .await;
    bulk.fault(Fault::BulkBusy(vec![0, 3, 7]));
    bulk.fault(Fault::LoseAnswer);
    rig.add(
        "acme",
        json!({"splunk": {"url": splunk.url, "token_file": rig.secret("t1", "t1")}}),
    )
    .await;
    rig.add("acme", json!({"datadog": {"site": "datadoghq.eu", "url": format!("{}/api/v2/logs", datadog.url), "api_key_file": rig.secret("dd1", "dd1")}, "format": "ecs"}))
        .await;
    rig.add("acme", json!({"elasticsearch": {"url": bulk.url, "index": "audit-acme", "api_key_file": rig.secret("es1", "es1")}, "format": "ocsf"}))
        .await;
    let ids = ingest(rig.store.as_ref(), "acme", "tg", 2500, |i| {
        format!("doc.{}", ["created", "viewed", "deleted"][i % 3])
    })
    .await;
    ingest(rig.store.as_ref(), "other", "ot", 100, |_| {
        "doc.update".into()
    })
    .await;
    // `_bulk` takes items one by one: those it refused (429) arrive after the rest of their
    // batch, so its arrival order is not receive order (an index orders by time anyway).
    let sorted = |r: &Receiver| {
        let mut ids = r.snapshot(|r| r.first_arrivals());
        ids.sort();
        ids
    };
    rig.pass_until("every target has all", || {
        [&splunk, &datadog]
            .iter()
            .all(|r| r.snapshot(|r| r.first_arrivals()) == ids)
            && sorted(&bulk) == ids
    })
    .await;
    for receiver in [&splunk, &datadog, &bulk] {
        assert_no_violations(receiver);
    }
    // `_bulk` indexes each event once: a re-sent batch answers 409 for what is there.
    let twice: Vec<_> = bulk
        .snapshot(|r| r.counts())
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .collect();
    assert!(twice.is_empty(), "{twice:?}");
    let ecs = datadog.snapshot(|r| r.records[0].1.clone());
    assert_eq!(ecs["ecs"]["version"], "9.4.0");
    assert_eq!(ecs["organization"]["id"], "acme");
}

#[macro_export]
macro_rules! stream_tests {
    ($backend:expr) => {
        $crate::stream_tests!(@one $backend,
            every_event_arrives_in_order_through_faults,
            a_refused_credential_stops_one_stream_only,
            pause_resume_replay_and_filters_do_what_they_say,
            a_rotated_webhook_secret_verifies_during_its_grace,
            every_target_takes_every_event_of_its_tenant_only
        );
    };
    (@one $backend:expr, $($name:ident),+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let rig = $crate::stream_suite::rig(&$backend).await;
                $crate::stream_suite::$name(&rig).await;
            }
        )+
    };
}
