//! The exactly-once export behaviours on an S3-compatible store (moto as a custom endpoint,
//! path-style, an IAM user's static key held by reference), on SQLite; then what is particular
//! to such stores: no checksum headers or trailers they may refuse, and a wrong secret named.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

auditlog_tests::export_tests!(auditlog_tests::export_suite::S3CompatibleOnSqlite);

use auditlog_core::Timestamp;
use auditlog_core::export::{Destination, SecretRef, Target};
use auditlog_export::{destination_status, export_pass};
use auditlog_tests::export_suite::{
    ExportTarget as _, GRACE, S3CompatibleOnSqlite, WINDOW, aws_check, compatible_target, config,
    ids, ingest, unique,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_carry_no_checksum_the_store_may_refuse() {
    let rig = S3CompatibleOnSqlite.rig().await;
    ingest(
        rig.store.as_ref(),
        "acme",
        &ids("c", 5),
        rig.t0 + 1_000,
        None,
    )
    .await;
    let now = Timestamp(rig.t0 + WINDOW + GRACE + 1);
    let report = export_pass(
        rig.store.as_ref(),
        rig.sinks.as_ref(),
        &config("compat"),
        now,
    )
    .await
    .unwrap();
    assert_eq!(report.failed(), 0, "{:?}", report.summary());
    let requests = rig.requests.lock().unwrap().clone();
    let puts: Vec<_> = requests.iter().filter(|r| r.method == "PUT").collect();
    assert!(!puts.is_empty());
    for request in &puts {
        for (name, value) in &request.headers {
            let name = name.to_ascii_lowercase();
            assert!(
                !name.starts_with("x-amz-checksum")
                    && name != "x-amz-sdk-checksum-algorithm"
                    && name != "x-amz-trailer",
                "{name} sent to an S3-compatible store: {request:?}"
            );
            assert!(!value.contains("aws-chunked"), "{name}: {value}");
        }
        assert!(
            request
                .uri
                .contains(&format!("/{}/", rig.destination_bucket())),
            "path-style: {}",
            request.uri
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_is_named_and_not_shown() {
    let data = tempfile::tempdir().unwrap();
    let store = auditlog_local::SqliteStore::open(data.path()).unwrap();
    let bucket = unique("minio-audit");
    aws_check(&["bucket", &bucket]);
    let mut target = compatible_target(&bucket, data.path());
    let wrong = data.path().join("wrong-secret");
    std::fs::write(&wrong, "not-the-secret-0123456789").unwrap();
    if let Some(compatible) = target.compatible.as_mut() {
        compatible.secret_access_key = SecretRef::File(wrong.display().to_string());
    }
    let destination = Destination::new(
        unique("dst_compat"),
        "acme".into(),
        Target::S3(target),
        Timestamp(auditlog_tests::now_ms()),
    );
    auditlog_tests::add_destination(&store, &destination).await;
    let t0 = auditlog_tests::export_suite::first_window_boundary();
    ingest(&store, "acme", &ids("w", 3), t0 + 1_000, None).await;
    let now = Timestamp(t0 + WINDOW + GRACE + 1);
    let sinks = auditlog_export::Sinks::from_env().await;
    export_pass(&store, &sinks, &config("compat"), now)
        .await
        .unwrap();
    let status = destination_status(&store, &destination, now).await.unwrap();
    let error = status.last_error.map(|e| e.message).unwrap_or_default();
    assert!(
        error.contains("SignatureDoesNotMatch") || error.contains("signature"),
        "{error}"
    );
    assert!(!error.contains("not-the-secret-0123456789"), "{error}");
}
