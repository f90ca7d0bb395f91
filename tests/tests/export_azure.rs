//! The exactly-once export behaviours on Azure Blob Storage (the Azurite emulator, shared key),
//! on the SQLite store; then what is particular to Azure: SAS tokens, and every refusal with a
//! precise message and hint.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

auditlog_tests::export_tests!(auditlog_tests::azure_rig::AzuriteOnSqlite);

/// A zstd destination on Azure: blobs as `.ndjson.zst` with `Content-Type: application/zstd`,
/// verified, every tampering named.
mod zstd {
    auditlog_tests::export_tests!(@one auditlog_tests::azure_rig::ZstdAzuriteOnSqlite,
        exported_streams_verify_against_the_receipts,
        digests_are_signed_chained_and_name_every_tampering);
}

use std::sync::Arc;

use auditlog_core::Timestamp;
use auditlog_core::export::{AzureCredential, Destination, Target};
use auditlog_core::store::ServiceStore;
use auditlog_export::sink::{ObjectSink, PutOutcome};
use auditlog_export::{Sinks, destination_status, export_pass};
use auditlog_tests::azure_rig::{ACCOUNT_KEY, Container, endpoint};
use auditlog_tests::export_suite::{
    GRACE, WINDOW, assert_exactly_once, config, first_window_boundary, ids, ingest, unique,
};
use sha2::{Digest as _, Sha256};

/// A SQLite store with `targets` as the tenant's destinations and ten events an hour ago; one
/// export pass. Every destination's report error and status error, as text.
async fn export_to(
    targets: Vec<Target>,
) -> (Timestamp, Vec<Destination>, Vec<String>, tempfile::TempDir) {
    let data = tempfile::tempdir().unwrap();
    let store: Arc<dyn ServiceStore> =
        Arc::new(auditlog_local::SqliteStore::open(data.path()).unwrap());
    let mut destinations = Vec::new();
    for target in targets {
        let destination = Destination::new(
            unique("dst"),
            "acme".into(),
            target,
            Timestamp(auditlog_tests::now_ms()),
        );
        auditlog_tests::add_destination(store.as_ref(), &destination).await;
        destinations.push(destination);
    }
    let t0 = first_window_boundary();
    ingest(store.as_ref(), "acme", &ids("az", 10), t0 + 1_000, None).await;
    let now = Timestamp(t0 + WINDOW + GRACE + 1);
    let sinks = Sinks::without_aws();
    let report = export_pass(store.as_ref(), &sinks, &config("azure-test"), now)
        .await
        .unwrap();
    let mut errors = Vec::new();
    for destination in &destinations {
        let reported = report
            .destinations
            .iter()
            .find(|r| r.destination_id == destination.id)
            .and_then(|r| r.error.clone())
            .unwrap_or_default();
        let status = destination_status(store.as_ref(), destination, now)
            .await
            .unwrap();
        let stored = status.last_error.map(|e| e.message).unwrap_or_default();
        assert_eq!(reported, stored, "the status says what the pass said");
        errors.push(stored);
    }
    (now, destinations, errors, data)
}

fn assert_no_secret(text: &str, sas: Option<&str>) {
    assert!(
        !text.contains(ACCOUNT_KEY),
        "the account key leaked: {text}"
    );
    if let Some(sas) = sas {
        let sig = sas.split("sig=").nth(1).unwrap_or_default();
        assert!(
            sig.is_empty() || !text.contains(sig),
            "a SAS signature leaked: {text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sas_with_create_read_list_exports_compares_retries_and_verifies() {
    let container = Container::create();
    let sas = container.sas("crl", 3600);
    let token = container.secret_file("sas", &sas);
    let target = container.target(AzureCredential::Sas { token });
    let (now, _destinations, errors, _data) = export_to(vec![Target::Azure(target.clone())]).await;
    assert_eq!(errors, [""]);
    assert_exactly_once(&container.delivered(), &ids("az", 10));

    // A retried write of an object that exists with the same bytes is accepted; other bytes
    // are a conflict, never an overwrite.
    let sink = auditlog_export::azure::AzureSink::new(&target).unwrap();
    let body = b"retried".to_vec();
    let sha: [u8; 32] = Sha256::digest(&body).into();
    let key = "user-events-audit/retry-probe.json";
    assert_eq!(
        sink.put_if_absent(key, body.clone(), sha).await.unwrap(),
        PutOutcome::Created
    );
    assert_eq!(
        sink.put_if_absent(key, body, sha).await.unwrap(),
        PutOutcome::AlreadyPresent
    );
    let other = b"other".to_vec();
    let other_sha: [u8; 32] = Sha256::digest(&other).into();
    let conflict = sink
        .put_if_absent(key, other, other_sha)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        conflict.contains("exists with different content"),
        "{conflict}"
    );
    assert_no_secret(&conflict, Some(&sas));

    // `auditlog verify` reads the container with a read-and-list SAS of the customer's own.
    let reader = container.secret_file("reader-sas", &container.sas("rl", 3600));
    let SecretRefPath(path) = SecretRefPath::of(reader);
    let out = auditlog_tests::run_auditlog(
        &[
            "verify",
            &format!(
                "azure://devstoreaccount1/{}/user-events-audit/",
                container.name
            ),
            "--azure-endpoint",
            &endpoint(),
            "--azure-sas-file",
            &path,
            "--as-of",
            &now.to_rfc3339(),
        ],
        &[],
    );
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("10 events, last seq 10"),
        "{}{}",
        out.stdout,
        out.stderr
    );
}

struct SecretRefPath(String);

impl SecretRefPath {
    fn of(reference: auditlog_core::export::SecretRef) -> Self {
        match reference {
            auditlog_core::export::SecretRef::File(path) => SecretRefPath(path),
            auditlog_core::export::SecretRef::Env(name) => SecretRefPath(name),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_only_sas_is_refused_before_any_request_with_the_permissions_it_lacks() {
    // With `c` alone, Azure refuses a retried create (403, not 409), and nothing could read the
    // object back to compare it: the exporter says so before its first request.
    let container = Container::create();
    let sas = container.sas("c", 3600);
    let target = container.target(AzureCredential::Sas {
        token: container.secret_file("sas", &sas),
    });
    let refused = auditlog_export::azure::AzureSink::new(&target)
        .err()
        .expect("refused")
        .to_string();
    assert!(
        refused.contains("grants `c` but lacks r (read one back to compare it after a retry)"),
        "{refused}"
    );
    assert!(refused.contains("issue a new SAS"), "{refused}");
    assert_no_secret(&refused, Some(&sas));
    assert!(
        container.delivered().keys.is_empty(),
        "nothing was sent with it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_gets_a_precise_message_and_hint_and_no_secret() {
    let container = Container::create();
    let no_create = container.sas("rl", 3600);
    let expired = container.sas("crl", -60);
    // A well-formed key that is not the account's.
    let wrong_key = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [7u8; 64]);
    let missing = {
        let mut target = container.target(container.shared_key());
        target.container = "no-such-container".into();
        target
    };
    let targets = vec![
        Target::Azure(container.target(AzureCredential::Sas {
            token: container.secret_file("no-create", &no_create),
        })),
        Target::Azure(container.target(AzureCredential::Sas {
            token: container.secret_file("expired", &expired),
        })),
        Target::Azure(container.target(AzureCredential::SharedKey {
            key: container.secret_file("wrong-key", &wrong_key),
        })),
        Target::Azure(missing),
        Target::Azure(container.target(AzureCredential::SharedKey {
            key: auditlog_core::export::SecretRef::Env("AUDITLOG_TEST_NO_SUCH_VARIABLE".into()),
        })),
        Target::Azure({
            // Nothing listens on port 1.
            let mut target = container.target(container.shared_key());
            target.endpoint = Some("http://127.0.0.1:1/devstoreaccount1".into());
            target
        }),
    ];
    let (_now, _destinations, errors, _data) = export_to(targets).await;
    let expected = [
        (
            "the SAS token grants `rl` but lacks c (create objects)",
            "c (create objects), r (read one back",
        ),
        ("the SAS token expired at", "issue a new SAS"),
        (
            "the shared key does not match the account's",
            "key1 or key2",
        ),
        (
            "the container `no-such-container` does not exist",
            "create it",
        ),
        (
            "environment variable AUDITLOG_TEST_NO_SUCH_VARIABLE is not set",
            "set it where the exporter runs",
        ),
        (
            "cannot reach the storage endpoint",
            "check the account name or the endpoint",
        ),
    ];
    assert_eq!(errors.len(), expected.len());
    for (error, (says, hint)) in errors.iter().zip(expected) {
        assert!(error.contains(says) && error.contains(hint), "{error}");
        assert_no_secret(error, Some(&no_create));
        assert_no_secret(error, Some(&expired));
        assert!(!error.contains(&wrong_key), "{error}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_azure_destination_never_holds_back_the_others() {
    let container = Container::create();
    let mut broken = container.target(container.shared_key());
    broken.container = "gone-container".into();
    let out = tempfile::tempdir().unwrap();
    let good = container.target(container.shared_key());
    let (_now, _destinations, errors, _data) = export_to(vec![
        Target::Azure(broken),
        Target::Directory {
            path: out.path().display().to_string(),
            prefix: "user-events-audit/".into(),
        },
        Target::Azure(good),
    ])
    .await;
    assert!(errors[0].contains("does not exist"), "{}", errors[0]);
    assert_eq!(errors[1..], ["", ""]);
    assert_exactly_once(&container.delivered(), &ids("az", 10));
}
