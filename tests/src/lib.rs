//! The HTTP behaviour suite, written once and run against every store.
//!
//! # Layout
//!
//! - [`TestService`]: a real server on a 127.0.0.1 port, serving the shared router over one
//!   store, with a clock the tests can move forward (for retention).
//! - [`Backend`]: how to make a fresh store. `tests/http_local.rs` runs the suite on SQLite;
//!   other stores add one `Backend` and one `suite_tests!` line.
//! - [`suite`]: the behaviours, each an async function taking a `&TestService` (its read side
//!   in [`query_suite`], its destination routes in [`destination_api_suite`]);
//!   [`console_suite`] and [`self_audit_suite`] likewise, for the console and the service's own
//!   `auditlog.` records (the key routes' behaviour in [`key_api_suite`]).
//! - [`export_suite`]: the exactly-once export behaviours, run on every rig of [`export_rigs`];
//!   the signed digests' end-to-end test in [`digest_suite`].
//! - `macros`: `suite_tests!` and its kin, which run a suite's behaviours on a backend, one
//!   `#[tokio::test]` each.

// Test harness code: a failed unwrap is a failed test, which is what it should be.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod azure_rig;
pub mod console_suite;
pub mod destination_api_suite;
pub mod digest_suite;
pub mod export_rigs;
pub mod export_suite;
pub mod key_api_suite;
mod macros;
pub mod processes;
pub mod query_suite;
pub mod receivers;
pub mod self_audit_suite;
pub mod stream_api_suite;
pub mod stream_suite;
pub mod suite;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use auditlog_core::Timestamp;
use auditlog_core::cursor::CursorKey;
use auditlog_core::keys::{KeyRecord, hash_key, issue_key, key_id_of, parse_scopes};
use auditlog_core::redact::Redactor;
use auditlog_core::self_audit::{Caller, SelfAction, SelfEvent, key_created};
use auditlog_core::store::{NewEvent, ServiceStore, Store};
use auditlog_core::validate::Limits;
use auditlog_http::{ApiConfig, AppState, router};
use serde_json::Value;

/// Runs the workspace's `auditlog` CLI binary, which the same `cargo test` builds beside the
/// test binaries, with `envs` added: whether it succeeded, its exit code, stdout and stderr.
pub fn run_auditlog(args: &[&str], envs: &[(&str, &std::path::Path)]) -> CliOutput {
    let binary = processes::auditlog_binary();
    let out = std::process::Command::new(&binary)
        .args(args)
        .envs(envs.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("run {} ({e})", binary.display()));
    CliOutput {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// What a run of the CLI printed.
#[derive(Debug)]
pub struct CliOutput {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Makes a fresh, empty store for one test.
#[async_trait::async_trait]
pub trait Backend: Send + Sync {
    async fn fresh_store(&self) -> (Arc<dyn ServiceStore>, Box<dyn std::any::Any + Send>);

    /// Whether `purge_expired` deletes expired events (SQLite), or the database does it on its
    /// own schedule (DynamoDB TTL). Either way expired events are never returned.
    fn purges_on_demand(&self) -> bool {
        true
    }
}

/// DynamoDB (DynamoDB Local in tests, at `AWS_ENDPOINT_URL_DYNAMODB`), fresh tables per test.
pub struct DynamoBackend;

impl DynamoBackend {
    pub fn config() -> auditlog_aws::DynamoConfig {
        let run = format!("t{}", rand::random::<u64>());
        auditlog_aws::DynamoConfig {
            events_table: format!("{run}-events"),
            keys_table: format!("{run}-keys"),
            exports_table: format!("{run}-exports"),
            shards: 4,
        }
    }

    pub async fn fresh() -> auditlog_aws::DynamoStore {
        assert!(
            std::env::var("AWS_ENDPOINT_URL_DYNAMODB").is_ok()
                || std::env::var("AWS_ENDPOINT_URL").is_ok(),
            "set AWS_ENDPOINT_URL_DYNAMODB to a DynamoDB Local (scripts/test starts one)"
        );
        let store = auditlog_aws::DynamoStore::connect(Self::config()).await;
        auditlog_aws::tables::create_tables(store.client(), store.config())
            .await
            .expect("create tables");
        store
    }
}

#[async_trait::async_trait]
impl Backend for DynamoBackend {
    async fn fresh_store(&self) -> (Arc<dyn ServiceStore>, Box<dyn std::any::Any + Send>) {
        (Arc::new(Self::fresh().await), Box::new(()))
    }

    fn purges_on_demand(&self) -> bool {
        false
    }
}

/// The embedded SQLite store in a temporary directory.
pub struct LocalBackend;

#[async_trait::async_trait]
impl Backend for LocalBackend {
    async fn fresh_store(&self) -> (Arc<dyn ServiceStore>, Box<dyn std::any::Any + Send>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = auditlog_local::SqliteStore::open(dir.path()).expect("open sqlite store");
        (Arc::new(store), Box::new(dir))
    }
}

pub const RETENTION_MS: i64 = 7 * 24 * 3600 * 1000;
/// The suite's response budget: small enough that paging by size is exercised.
pub const MAX_RESPONSE_BYTES: usize = 512 * 1024;

pub struct TestService {
    pub base: String,
    pub purges_on_demand: bool,
    pub store: Arc<dyn ServiceStore>,
    pub client: reqwest::Client,
    clock_offset: Arc<AtomicI64>,
    _keep: Box<dyn std::any::Any + Send>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestService {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

pub fn fixture_json(path: &str) -> Value {
    let text = std::fs::read_to_string(fixtures().join(path)).expect("fixture");
    serde_json::from_str(&text).expect("fixture json")
}

/// The events of an NDJSON fixture.
pub fn fixture_ndjson(path: &str) -> Vec<Value> {
    std::fs::read_to_string(fixtures().join(path))
        .expect("fixture")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("fixture json"))
        .collect()
}

/// Every valid client event of the fixtures: ours, and those mapped from other vendors'
/// catalogues.
pub fn valid_fixture_events() -> Vec<Value> {
    let mut events: Vec<Value> = [
        "valid/minimal.json",
        "valid/full.json",
        "valid/set-password.json",
        "valid/epoch-millis.json",
        "mapped/logger-record.json",
    ]
    .iter()
    .map(|name| fixture_json(name))
    .collect();
    for name in [
        "mapped/graphql-request-log.ndjson",
        "mapped/idp-events.ndjson",
        "mapped/app-platform-events.ndjson",
    ] {
        events.extend(fixture_ndjson(name));
    }
    events
}

/// The API state the suite serves: default limits, the suite's retention and response budget,
/// and a clock that tests can move forward by `clock_offset` milliseconds.
pub fn test_state(store: Arc<dyn ServiceStore>, clock_offset: Arc<AtomicI64>) -> AppState {
    AppState {
        store,
        config: Arc::new(ApiConfig {
            limits: Limits::default(),
            redactor: Redactor::default(),
            retention_ms: RETENTION_MS,
            cursor_key: CursorKey::new(rand_bytes()),
            max_response_bytes: MAX_RESPONSE_BYTES,
            console_frame_ancestors: "'none'".into(),
            stream_policy: auditlog_core::stream::address::AddressPolicy {
                allow_http: true,
                allow_private: true,
            },
        }),
        clock: Arc::new(move || Timestamp(now_ms() + clock_offset.load(Ordering::SeqCst))),
    }
}

/// The text of a sample Lambda event in `events/`.
pub fn lambda_event(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../events")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The API key the sample events carry (a published sample, never a real secret).
pub fn sample_key() -> String {
    let event: Value = serde_json::from_str(&lambda_event("ingest-single.json")).expect("json");
    event["headers"]["authorization"]
        .as_str()
        .and_then(|h| h.strip_prefix("Bearer "))
        .expect("the sample event carries a bearer key")
        .to_string()
}

/// Registers the sample key (tenant `demo`, write and read) in a store, as an operator would
/// with `auditlog keys create`.
pub async fn register_sample_key(store: &dyn Store) {
    store_key(store, &sample_key(), SAMPLE_TENANT, "write,read", now_ms()).await;
}

/// Stores the record of `key` (its hash, never the key) for `tenant` with `scopes`, with its
/// self-audit record, as `auditlog keys create` does.
pub async fn store_key(store: &dyn Store, key: &str, tenant: &str, scopes: &str, at: i64) {
    let record = KeyRecord {
        key_id: key_id_of(key).expect("key shape").to_string(),
        tenant: tenant.to_string(),
        scopes: parse_scopes(scopes).expect("scopes"),
        hash: hash_key(key),
        label: None,
        created_at: Timestamp(at),
        revoked_at: None,
    };
    let audit = operator_record(tenant, key_created(harness_operator(), &record), at);
    store.create_key(&record, &audit).await.expect("create key");
}

/// Adds `destination` with its self-audit record, as `auditlog destinations add` does.
pub async fn add_destination(
    store: &dyn auditlog_core::store::DestinationStore,
    destination: &auditlog_core::export::Destination,
) {
    let record = operator_record(
        &destination.tenant,
        SelfEvent::new(SelfAction::DestinationAdded, harness_operator()).destination(destination),
        destination.created_at.0,
    );
    store
        .add_destination(destination, &record)
        .await
        .expect("add destination");
}

/// The operator the harness acts as when it changes a store directly (as the CLI would).
pub fn harness_operator() -> Caller {
    Caller::Operator {
        user: "tests".into(),
        host: "harness".into(),
    }
}

/// `record` as the self-audit event of `tenant` at `at` (epoch ms), with a fresh id.
pub fn operator_record(tenant: &str, record: SelfEvent, at: i64) -> NewEvent {
    record.into_event(
        tenant,
        ulid::Ulid::new().to_string(),
        Timestamp(at),
        RETENTION_MS,
    )
}

pub const SAMPLE_TENANT: &str = "demo";

impl TestService {
    pub async fn start(backend: &dyn Backend) -> TestService {
        let (store, keep) = backend.fresh_store().await;
        let mut service = Self::serve(store, keep).await;
        service.purges_on_demand = backend.purges_on_demand();
        service
    }

    /// Serves an existing store (for store-specific tests that also inspect it directly).
    pub async fn start_with_store(store: Arc<dyn ServiceStore>) -> TestService {
        Self::serve(store, Box::new(())).await
    }

    async fn serve(
        store: Arc<dyn ServiceStore>,
        keep: Box<dyn std::any::Any + Send>,
    ) -> TestService {
        let clock_offset = Arc::new(AtomicI64::new(0));
        let state = test_state(store.clone(), clock_offset.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        TestService {
            base: format!("http://{addr}"),
            purges_on_demand: true,
            store,
            client: reqwest::Client::new(),
            clock_offset,
            _keep: keep,
            shutdown: Some(tx),
        }
    }

    /// Moves the service's clock forward (retention tests).
    pub fn advance_clock(&self, ms: i64) {
        self.clock_offset.fetch_add(ms, Ordering::SeqCst);
    }

    pub fn now(&self) -> Timestamp {
        Timestamp(now_ms() + self.clock_offset.load(Ordering::SeqCst))
    }

    /// Creates a key straight in the store, as `auditlog keys create` does.
    pub async fn key(&self, tenant: &str, scopes: &str) -> String {
        let issued = issue_key(rand_bytes(), rand_bytes());
        store_key(
            self.store.as_ref(),
            &issued.key,
            tenant,
            scopes,
            self.now().0,
        )
        .await;
        issued.key
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// POSTs a JSON body to /v1/events; returns status and parsed answer.
    pub async fn post_events(&self, key: &str, body: &Value) -> (u16, Value) {
        self.post_raw(key, "application/json", body.to_string().into_bytes())
            .await
    }

    pub async fn post_raw(&self, key: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
        let response = self
            .client
            .post(self.url("/v1/events"))
            .bearer_auth(key)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request");
        answer(response).await
    }

    /// POSTs `body` (none: an empty body) to `path` with `key`; status and parsed answer.
    pub async fn post_json(&self, key: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.client.post(self.url(path)).bearer_auth(key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        answer(request.send().await.expect("request")).await
    }

    pub async fn get(&self, key: Option<&str>, path_and_query: &str) -> (u16, Value) {
        let mut request = self.client.get(self.url(path_and_query));
        if let Some(k) = key {
            request = request.bearer_auth(k);
        }
        answer(request.send().await.expect("request")).await
    }

    /// The clients' events matching `query`: every page, without the service's own `auditlog.`
    /// records (each read adds one; the self-audit suite checks those).
    pub async fn client_pages(&self, key: &str, query: &str) -> Vec<Value> {
        let mut events = self.all_pages(key, query).await;
        events.retain(|e| !is_self_audit(e));
        events
    }

    /// Every event matching `query` (a query string without `cursor`), following cursors.
    pub async fn all_pages(&self, key: &str, query: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/v1/events?{query}");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let (status, body) = self.get(Some(key), &path).await;
            assert_eq!(status, 200, "{body}");
            out.extend(body["events"].as_array().expect("events").iter().cloned());
            match body["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return out,
            }
        }
    }
}

async fn answer(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

/// Whether `event` is one of the service's own records (action `auditlog.*`).
pub fn is_self_audit(event: &Value) -> bool {
    event["action"]
        .as_str()
        .is_some_and(auditlog_core::self_audit::is_self_audit)
}

/// Wall-clock time in epoch milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn rand_bytes<const N: usize>() -> [u8; N] {
    rand::random()
}
