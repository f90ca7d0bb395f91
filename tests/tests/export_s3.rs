//! Export to S3 on moto_server, with IAM enforced, through a role assumed with an external id,
//! on DynamoDB Local: the exactly-once behaviours, denied writes, and `verify`. Every request
//! the exporter sends is recorded and checked for ACLs. `scripts/test` starts both emulators.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use auditlog_core::Timestamp;
use auditlog_core::export::{Destination, Target};
use auditlog_core::store::{DestinationStore, ExportStateStore, ExportStore};
use auditlog_export::{export_pass, verify_destination};
use auditlog_tests::export_suite::{
    GRACE, PERIOD, S3Bucket, S3OnDynamo, WINDOW, assert_no_acl, aws_check, config, ids, ingest,
    recorded_sinks, unique,
};

auditlog_tests::export_tests!(S3OnDynamo);

/// A zstd destination on S3: objects land as `.ndjson.zst` with `Content-Type:
/// application/zstd` (read back with boto3 and the `zstandard` library), `auditlog verify`
/// checks them against the receipts, and names every tampering.
mod zstd {
    auditlog_tests::export_tests!(@one auditlog_tests::export_suite::ZstdS3OnDynamo,
        exported_streams_verify_against_the_receipts,
        digests_are_signed_chained_and_name_every_tampering);
}

async fn destination_for(store: &dyn DestinationStore, bucket: &S3Bucket) -> Destination {
    let destination = Destination::new(
        unique("dst_s3"),
        "acme".into(),
        Target::S3(bucket.target()),
        Timestamp(auditlog_tests::now_ms()),
    );
    auditlog_tests::add_destination(store, &destination).await;
    destination
}

#[tokio::test]
async fn a_denied_write_keeps_the_checkpoint_and_shows_in_status_without_holding_back_others() {
    let store = auditlog_tests::DynamoBackend::fresh().await;
    let denied_bucket = S3Bucket::create(false);
    let good_bucket = S3Bucket::create(true);
    let denied = destination_for(&store, &denied_bucket).await;
    let good = destination_for(&store, &good_bucket).await;
    let t0 = auditlog_tests::now_ms() - 3_600_000;
    let t0 = t0 - t0.rem_euclid(WINDOW);
    let events = ids("d", 12);
    ingest(&store, "acme", &events, t0 + 1_000, None).await;
    let (sinks, requests) = recorded_sinks().await;
    let now = Timestamp(t0 + WINDOW + GRACE);
    let export_store: &dyn ExportStore = &store;
    let report = export_pass(export_store, &sinks, &config("a"), now)
        .await
        .unwrap();
    assert_eq!(report.failed(), 1, "{report:?}");

    let denied_report = report
        .destinations
        .iter()
        .find(|d| d.destination_id == denied.id)
        .unwrap();
    let message = denied_report.error.as_deref().unwrap();
    assert!(
        message.starts_with("PutObject denied on s3://"),
        "{message}"
    );
    assert!(
        message.contains("AccessDenied"),
        "a real IAM denial: {message}"
    );
    assert!(message.contains("needs s3:PutObject"), "{message}");
    let state = store.export_state(&denied.id).await.unwrap();
    assert_eq!(state.exported_through, None, "checkpoint not advanced");
    assert_eq!(state.events_delivered, 0);
    let error = state.last_error.expect("status shows the error");
    assert_eq!(error.at, now);
    assert!(error.message.contains("PutObject denied"));
    assert!(denied_bucket.delivered().keys.is_empty());

    // The other destination of the same tenant was delivered in the same pass.
    auditlog_tests::export_suite::assert_exactly_once(&good_bucket.delivered(), &events);
    assert_eq!(
        store.export_state(&good.id).await.unwrap().exported_through,
        Some(Timestamp(t0 + WINDOW))
    );
    assert_no_acl(&requests.lock().unwrap());
}

#[tokio::test]
async fn verify_writes_through_the_assumed_role_and_names_each_failure() {
    let (sinks, requests) = recorded_sinks().await;
    let now = Timestamp(auditlog_tests::now_ms());
    let bucket = S3Bucket::create(true);
    let mut destination = Destination::new(
        "dst_verify".into(),
        "acme".into(),
        Target::S3(bucket.target()),
        now,
    );

    // Through the real path: the object is there, readable by an independent client.
    let key = verify_destination(&sinks, &destination, now).await.unwrap();
    assert!(
        key.starts_with("user-events-audit/_verify/auditlog-verify-test-"),
        "{key}"
    );
    let body: serde_json::Value = serde_json::from_str(
        aws_check(&["get", &bucket.bucket, &key])["body"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(body["destination"], "dst_verify");
    let put = requests
        .lock()
        .unwrap()
        .iter()
        .find(|r| r.method == "PUT")
        .cloned()
        .unwrap();
    assert!(
        put.headers
            .iter()
            .any(|(h, _)| h == "x-amz-checksum-sha256"),
        "{put:?}"
    );
    assert!(
        put.headers
            .iter()
            .any(|(h, v)| h == "authorization" && v.contains("Credential=ASIA")),
        "signed with the assumed role's temporary key: {put:?}"
    );

    // AssumeRole denied: the external id does not match the role's trust policy.
    let Target::S3(target) = &mut destination.target else {
        unreachable!()
    };
    target.external_id = Some("not-the-customers-id".into());
    let e = verify_destination(&sinks, &destination, now)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("AssumeRole denied for arn:aws:iam::"), "{e}");
    assert!(e.contains("external id not-the-customers-id"), "{e}");

    // PutObject denied: the role may not write.
    let read_only = S3Bucket::create(false);
    destination.target = Target::S3(read_only.target());
    let e = verify_destination(&sinks, &destination, now)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("PutObject denied on s3://"), "{e}");
    assert!(e.contains("AccessDenied"), "a real IAM denial: {e}");
    assert!(e.contains(&read_only.role_arn), "{e}");

    // No such bucket: written with the exporter's own credentials (no role), as a bucket
    // policy grant would be.
    let mut missing = bucket.target();
    missing.bucket = unique("no-such-bucket");
    missing.role_arn = None;
    missing.external_id = None;
    destination.target = Target::S3(missing.clone());
    let e = verify_destination(&sinks, &destination, now)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(&format!("no such bucket: {}", missing.bucket)),
        "{e}"
    );

    assert_no_acl(&requests.lock().unwrap());
}

#[tokio::test]
async fn writes_carry_the_kms_key_owner_checksum_and_condition_and_never_an_acl() {
    let (sinks, requests) = recorded_sinks().await;
    let bucket = S3Bucket::create(true);
    let mut target = bucket.target();
    target.kms_key_id = Some("arn:aws:kms:us-east-1:123456789012:key/0b1c2d3e".into());
    // moto's account: the owner check passes, and the header must be on every request.
    target.expected_bucket_owner = Some("123456789012".into());
    let store = auditlog_tests::DynamoBackend::fresh().await;
    let destination = Destination::new(
        unique("dst_kms"),
        "acme".into(),
        Target::S3(target),
        Timestamp(auditlog_tests::now_ms()),
    );
    auditlog_tests::add_destination(&store, &destination).await;
    let t0 = auditlog_tests::now_ms() - 3_600_000;
    let t0 = t0 - t0.rem_euclid(PERIOD);
    let events = ids("k", 5);
    ingest(&store, "acme", &events, t0 + 1_000, None).await;
    let export_store: &dyn ExportStore = &store;
    // The window's object, then (the period being over) the period's digest.
    let report = export_pass(
        export_store,
        &sinks,
        &config("a"),
        Timestamp(t0 + PERIOD + GRACE),
    )
    .await
    .unwrap();
    assert_eq!(report.failed(), 0, "{report:?}");
    assert_eq!(report.destinations[0].digests_written, 1, "{report:?}");
    auditlog_tests::export_suite::assert_exactly_once(&bucket.delivered(), &events);

    let requests = requests.lock().unwrap();
    let puts: Vec<_> = requests.iter().filter(|r| r.method == "PUT").collect();
    assert_eq!(puts.len(), 2, "one object, one digest: {requests:?}");
    for (put, content_type) in puts.iter().zip(["application/gzip", "application/json"]) {
        let header = |name: &str| {
            put.headers
                .iter()
                .find(|(h, _)| h == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(header("x-amz-server-side-encryption"), Some("aws:kms"));
        assert_eq!(
            header("x-amz-server-side-encryption-aws-kms-key-id"),
            Some("arn:aws:kms:us-east-1:123456789012:key/0b1c2d3e")
        );
        assert_eq!(header("x-amz-expected-bucket-owner"), Some("123456789012"));
        assert_eq!(header("if-none-match"), Some("*"));
        assert!(
            header("x-amz-checksum-sha256").is_some_and(|v| v.len() == 44),
            "{put:?}"
        );
        assert_eq!(header("content-type"), Some(content_type), "{put:?}");
        assert_eq!(header("content-encoding"), None);
    }
    assert!(
        puts[1]
            .uri
            .contains("/auditlog-digest/user-events-audit/tenant%3Dacme/"),
        "{:?}",
        puts[1]
    );
    assert_no_acl(&requests);
}

/// `auditlog ARGS`: exit code, and stdout followed by stderr (for failure messages).
fn auditlog(args: &[&str]) -> (Option<i32>, String) {
    let out = auditlog_tests::run_auditlog(args, &[]);
    (out.code, format!("{}{}", out.stdout, out.stderr))
}

/// `auditlog verify s3://...` reads the bucket itself: it passes the stream as exported (with
/// the receipts the ingest gave), then names each tampering done in S3.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn verify_reads_the_bucket_and_names_tampering_done_in_s3() {
    use auditlog_tests::export_suite::ExportTarget as _;
    let rig = S3OnDynamo.rig().await;
    let Target::S3(target) = &rig.destination.target else {
        unreachable!()
    };
    let bucket = target.bucket.clone();
    let mut receipts = std::collections::BTreeMap::new();
    for w in 0..3 {
        let received = rig.t0 + w * WINDOW + 1_000;
        receipts.extend(
            ingest(
                rig.store.as_ref(),
                "acme",
                &ids(&format!("v{w}"), 3),
                received,
                None,
            )
            .await,
        );
    }
    let store: &dyn ExportStore = rig.store.as_ref();
    let sink = rig.sinks.sink_for(&rig.destination).await.unwrap();
    let now = Timestamp(rig.t0 + 3 * WINDOW + GRACE);
    let report = auditlog_export::export_destination(
        store,
        sink.as_ref(),
        &rig.destination,
        &config("a"),
        now,
    )
    .await;
    assert_eq!(report.error, None);
    let keys = (rig.reader)().keys;
    assert_eq!(keys.len(), 3, "{keys:?}");

    let scratch = tempfile::tempdir().unwrap();
    let receipts_file = scratch.path().join("receipts.json");
    std::fs::write(&receipts_file, serde_json::to_string(&receipts).unwrap()).unwrap();
    let location = format!("s3://{bucket}/user-events-audit/");
    let receipts_arg = receipts_file.to_str().unwrap();
    // Judged as of the export's (simulated) time: the period's digest is not due yet.
    let as_of = now.to_rfc3339();
    let verify_receipts = || {
        auditlog(&[
            "verify",
            &location,
            "--receipts",
            receipts_arg,
            "--as-of",
            &as_of,
        ])
    };
    let (code, stdout) = verify_receipts();
    assert_eq!(code, Some(0), "{stdout}");
    assert!(
        stdout.contains("3 objects, 9 events, last seq 9, 9 receipts checked;")
            && stdout.contains(": ok"),
        "{stdout}"
    );

    // Hours later, the period's digest is long overdue (this test's exporter ran on simulated
    // time and never wrote it): the verifier says so. (Without digests it assumes hourly
    // periods, so "now" alone, an hour after the events, may still be within the allowance.)
    let later = Timestamp(auditlog_tests::now_ms() + 3 * 3_600_000).to_rfc3339();
    let (code, stdout) = auditlog(&["verify", &location, "--as-of", &later]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.contains("though the digest of its period is overdue"),
        "{stdout}"
    );

    // Each damage is done to the live bucket, checked, and found.
    aws_check(&["tamper", &bucket, &keys[0], "modify"]);
    let (code, stdout) = verify_receipts();
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "PROBLEM {}: line 1 (seq 1): the event does not hash",
            keys[0]
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("delivered with different content"),
        "{stdout}"
    );

    aws_check(&["tamper", &bucket, &keys[1], "delete"]);
    let (code, stdout) = auditlog(&["verify", &location, "--as-of", &as_of]);
    assert_eq!(code, Some(1));
    assert!(
        stdout.contains(&format!(
            "PROBLEM {}: sequence numbers 4..6 missing",
            keys[2]
        )),
        "{stdout}"
    );

    aws_check(&["tamper", &bucket, &keys[2], "truncate"]);
    let (code, stdout) = auditlog(&["verify", &location, "--as-of", &as_of]);
    assert_eq!(code, Some(1));
    assert!(
        stdout.contains(&format!("PROBLEM {}: cannot be read", keys[2])),
        "{stdout}"
    );
}
