//! Both templates beyond cfn-lint (which `.ci/run` runs):
//! - the cfn-guard rules of `infra/rules/auditlog.guard` pass on both, and each rule fails on a
//!   copy of a real template that breaks it (and only that rule fails);
//! - the plain CloudFormation resources create in moto's CloudFormation, and what was created
//!   reads back as declared: TTL on the attribute the store writes, ownership controls, public
//!   access blocks, encryption, versioning, the bucket policy and the writer role;
//! - the documents `auditlog policy` prints are the ones the customer template creates, and moto
//!   accepts them (PutBucketPolicy, UpdateAssumeRolePolicy).
//!
//! Needs cfn-guard (`AUDITLOG_CFN_GUARD`, set by scripts/cfn-guard.sh) and moto with boto3
//! (scripts/moto.sh); scripts/test provides both.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::path::{Path, PathBuf};
use std::process::Command;

use auditlog_tests::export_suite::{aws_check, unique};
use serde_json::{Value, json};

const VENDOR_ROLE: &str = "arn:aws:iam::123456789012:role/auditlog-export";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(repo().join(relative)).unwrap()
}

/// `cfn-guard validate` of one template: the names of the rules it does not comply with.
fn guard_failures(template: &Path) -> Vec<String> {
    let guard = std::env::var("AUDITLOG_CFN_GUARD").unwrap_or_else(|_| "cfn-guard".into());
    let out = Command::new(&guard)
        .args([
            "validate",
            "--output-format",
            "json",
            "--show-summary",
            "none",
        ])
        .arg("--rules")
        .arg(repo().join("infra/rules/auditlog.guard"))
        .arg("--data")
        .arg(template)
        .output()
        .unwrap_or_else(|e| panic!("run {guard} ({e}); scripts/test installs it"));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "cfn-guard printed no report ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let failures: Vec<String> = report["not_compliant"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["Rule"]["name"].as_str().unwrap().to_string())
        .collect();
    // The exit status agrees with the report: 0 when compliant, 19 when a rule fails.
    assert_eq!(out.status.success(), failures.is_empty(), "{report}");
    failures
}

#[test]
fn guard_rules_pass_on_both_templates() {
    for template in ["template.yaml", "infra/customer-bucket.yaml"] {
        assert_eq!(
            guard_failures(&repo().join(template)),
            Vec::<String>::new(),
            "{template}"
        );
    }
}

#[test]
fn each_guard_rule_fails_on_a_template_that_breaks_it() {
    const VENDOR: &str = "template.yaml";
    const CUSTOMER: &str = "infra/customer-bucket.yaml";
    // (template, text in it, what replaces that text, the one rule that must then fail)
    let breaks = [
        (
            VENDOR,
            "ObjectOwnership: BucketOwnerEnforced",
            "ObjectOwnership: ObjectWriter",
            "s3_acls_disabled",
        ),
        (
            CUSTOMER,
            "ObjectOwnership: BucketOwnerEnforced",
            "ObjectOwnership: BucketOwnerPreferred",
            "s3_acls_disabled",
        ),
        (
            VENDOR,
            "RestrictPublicBuckets: true",
            "RestrictPublicBuckets: false",
            "s3_public_access_blocked",
        ),
        (
            CUSTOMER,
            "BlockPublicPolicy: true",
            "BlockPublicPolicy: false",
            "s3_public_access_blocked",
        ),
        (
            VENDOR,
            "      BucketEncryption:\n        ServerSideEncryptionConfiguration:\n          - ServerSideEncryptionByDefault:\n              SSEAlgorithm: AES256\n",
            "",
            "s3_encrypted",
        ),
        (
            // The SSE-S3 branch of the customer's encryption condition loses its algorithm.
            CUSTOMER,
            "              - SSEAlgorithm: AES256",
            "              - !Ref AWS::NoValue",
            "s3_encrypted",
        ),
        (
            VENDOR,
            "aws:SecureTransport: \"false\"",
            "aws:SecureTransport: \"true\"",
            "s3_tls_only",
        ),
        (
            CUSTOMER,
            "aws:SecureTransport: \"false\"",
            "aws:SecureTransport: \"true\"",
            "s3_tls_only",
        ),
        (
            VENDOR,
            "AttributeName: expires_at\n        Enabled: true",
            "AttributeName: expires_at\n        Enabled: false",
            "dynamodb_events_ttl",
        ),
        (
            VENDOR,
            "AttributeName: expires_at",
            "AttributeName: ttl",
            "dynamodb_events_ttl",
        ),
        (
            VENDOR,
            "Action: [dynamodb:Query]",
            "Action: [dynamodb:*]",
            "iam_no_wildcard_actions",
        ),
        (
            VENDOR,
            "Action: [s3:PutObject, s3:GetObject]\n            Resource:\n              - !Sub \"${SharedBucket",
            "Action: [\"s3:*\"]\n            Resource:\n              - !Sub \"${SharedBucket",
            "iam_no_wildcard_actions",
        ),
        (
            // In a statement only the DataSync condition adds.
            CUSTOMER,
            "- s3:AbortMultipartUpload",
            "- s3:Abort*",
            "iam_no_wildcard_actions",
        ),
        (
            CUSTOMER,
            "- kms:UpdateKeyDescription",
            "- kms:*",
            "iam_no_wildcard_actions",
        ),
        (
            CUSTOMER,
            "Action: sts:AssumeRole",
            "Action: \"sts:*\"",
            "iam_no_wildcard_actions",
        ),
        (
            CUSTOMER,
            "                Action:\n                  - s3:GetObject\n                  - s3:PutObject",
            "                Action:\n                  - s3:GetObject\n                  - \"*\"",
            "iam_no_wildcard_actions",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (i, (template, from, to, rule)) in breaks.iter().enumerate() {
        let text = read(template);
        assert!(text.contains(from), "{template} no longer holds {from:?}");
        let broken = dir.path().join(format!("broken-{i}.yaml"));
        std::fs::write(&broken, text.replacen(from, to, 1)).unwrap();
        assert_eq!(
            guard_failures(&broken),
            vec![rule.to_string()],
            "{template} with {from:?} replaced by {to:?}"
        );
    }
}

/// Creates the template's plain resources in moto's CloudFormation (tests/support/cfn_check.py).
fn create_stack(template: &str, parameters: Value, stand_ins: &[&str]) -> Value {
    let script = repo().join("tests/support/cfn_check.py");
    let python = std::env::var("AUDITLOG_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    assert!(
        std::env::var("AWS_ENDPOINT_URL_S3").is_ok(),
        "set AWS_ENDPOINT_URL_S3 to a moto_server (scripts/test starts one)"
    );
    let out = Command::new(python)
        .arg(script)
        .arg(repo().join(template))
        .arg(unique("stack"))
        .arg(parameters.to_string())
        .args(stand_ins)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cfn_check.py {template} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stack: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(stack["status"], "CREATE_COMPLETE", "{stack}");
    stack
}

fn assert_locked_down(bucket: &Value) {
    assert_eq!(
        bucket["ownership"],
        json!([{"ObjectOwnership": "BucketOwnerEnforced"}]),
        "{bucket}"
    );
    assert_eq!(
        bucket["public_access_block"],
        json!({"BlockPublicAcls": true, "IgnorePublicAcls": true,
               "BlockPublicPolicy": true, "RestrictPublicBuckets": true}),
        "{bucket}"
    );
    assert_eq!(bucket["versioning"], "Enabled", "{bucket}");
    let name = bucket["name"].as_str().unwrap();
    let deny = &bucket["policy"]["Statement"][0];
    assert_eq!(
        *deny,
        json!({
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [format!("arn:aws:s3:::{name}"), format!("arn:aws:s3:::{name}/*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}
        })
    );
}

#[test]
fn vendor_tables_and_shared_bucket_create_in_cloudformation_as_declared() {
    let export_role = "arn:aws:iam::123456789012:role/vendor-ExportFunctionRole-1";
    let stack = create_stack(
        "template.yaml",
        json!({
            "CreateSharedBucket": "true",
            "AlarmTopicArn": "arn:aws:sns:us-east-1:123456789012:alarms",
        }),
        &[&format!("ExportFunctionRole={export_role}")],
    );
    assert_eq!(
        stack["created"],
        json!([
            "EventsTable",
            "ExportsTable",
            "KeysTable",
            "SharedBucket",
            "SharedBucketPolicy"
        ])
    );
    let events = &stack["tables"]["EventsTable"];
    assert_eq!(
        events["ttl"],
        json!({"TimeToLiveStatus": "ENABLED",
               "AttributeName": auditlog_aws::layout::TTL_ATTRIBUTE}),
        "{events}"
    );
    assert_eq!(events["keys"], json!(["pk", "sk"]));
    assert_eq!(events["indexes"], json!(["by_time"]));
    for table in ["EventsTable", "KeysTable", "ExportsTable"] {
        assert_eq!(
            stack["tables"][table]["billing"], "PAY_PER_REQUEST",
            "{table}"
        );
    }

    let bucket = &stack["buckets"]["SharedBucket"];
    assert_locked_down(bucket);
    assert_eq!(
        bucket["encryption"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"],
        "AES256"
    );
    let grant = &bucket["policy"]["Statement"][1];
    assert_eq!(grant["Effect"], "Allow");
    assert_eq!(grant["Principal"]["AWS"], export_role);
    let name = bucket["name"].as_str().unwrap();
    assert_eq!(
        grant["Resource"],
        json!([
            format!("arn:aws:s3:::{name}/user-events-audit/*"),
            format!("arn:aws:s3:::{name}/auditlog-digest/user-events-audit/*")
        ])
    );
}

fn rand_suffix() -> String {
    unique("x").trim_start_matches("x-").to_string()
}

/// Runs the workspace's CLI binary on a SQLite data directory of its own: whether it
/// succeeded, stdout, stderr.
fn auditlog(data_dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = auditlog_tests::run_auditlog(
        args,
        &[
            ("AUDITLOG_DATA_DIR", data_dir),
            ("AUDITLOG_STORE", Path::new("sqlite")),
        ],
    );
    (out.code == Some(0), out.stdout, out.stderr)
}

/// `auditlog policy ...`: the document it prints.
fn auditlog_policy(args: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let mut all = vec!["policy"];
    all.extend_from_slice(args);
    let (ok, stdout, stderr) = auditlog(dir.path(), &all);
    assert!(ok, "{stderr}");
    serde_json::from_str(&stdout).unwrap()
}

#[test]
fn customer_stack_creates_as_declared_and_grants_what_the_policy_generator_prints() {
    let external_id = "tenant-42-7f3a";
    let cases = [
        // (access mode, bucket policy actions, encryption)
        ("role", "minimal", "SSE-S3"),
        ("both", "minimal", "SSE-S3"),
        ("bucket-policy", "datasync", "SSE-KMS"),
    ];
    for (mode, actions, encryption) in cases {
        let stack = create_stack(
            "infra/customer-bucket.yaml",
            json!({
                "VendorExportRoleArn": VENDOR_ROLE,
                "ExternalId": external_id,
                "AccessMode": mode,
                "BucketPolicyActions": actions,
                "Encryption": encryption,
                "WriterRoleName": format!("auditlog-writer-{}", rand_suffix()),
            }),
            &[],
        );
        let case = format!("{mode}/{actions}/{encryption}");
        let bucket = &stack["buckets"]["ExportBucket"];
        assert_locked_down(bucket);
        let name = bucket["name"].as_str().unwrap();
        assert_eq!(stack["outputs"]["BucketName"], name, "{case}");

        // Encryption as chosen; with SSE-KMS, the key the stack created and outputs.
        let sse = &bucket["encryption"][0]["ApplyServerSideEncryptionByDefault"];
        if encryption == "SSE-KMS" {
            assert_eq!(sse["SSEAlgorithm"], "aws:kms", "{case}");
            assert_eq!(
                sse["KMSMasterKeyID"], stack["outputs"]["KmsKeyArn"],
                "{case}"
            );
        } else {
            assert_eq!(sse["SSEAlgorithm"], "AES256", "{case}");
        }

        // The bucket policy: TLS only, plus exactly the generator's grant when asked for.
        let mut args = vec!["bucket", "--bucket", name, "--principal", VENDOR_ROLE];
        if actions == "datasync" {
            args.push("--datasync");
        }
        let generated = auditlog_policy(&args);
        if mode == "role" {
            assert_eq!(
                bucket["policy"]["Statement"].as_array().unwrap().len(),
                1,
                "{case}: only the TLS statement: {bucket}"
            );
        } else {
            assert_eq!(bucket["policy"], generated, "{case}");
        }

        // The writer role: assumable by the vendor's role only with the external id, exactly as
        // `auditlog policy trust` prints it; writes under the prefix only.
        let role = &stack["roles"]["WriterRole"];
        if mode == "bucket-policy" {
            assert!(role.is_null(), "{case}: {stack}");
            continue;
        }
        assert_eq!(stack["outputs"]["WriterRoleArn"], role["arn"], "{case}");
        // A name the vendor's export role may assume (template.yaml's CustomerRoleNamePattern).
        let vendor = read("template.yaml");
        assert!(
            vendor.contains("    Default: auditlog-writer*\n"),
            "{vendor}"
        );
        let role_name = role["arn"].as_str().unwrap().rsplit('/').next().unwrap();
        assert!(
            role_name.starts_with("auditlog-writer"),
            "{case}: {role_name}"
        );
        if mode == "role" {
            register_and_verify(&stack, external_id);
        }
        let trust = auditlog_policy(&[
            "trust",
            "--vendor-role",
            VENDOR_ROLE,
            "--external-id",
            external_id,
        ]);
        assert_eq!(role["trust"], trust, "{case}");
        assert_eq!(
            role["policies"]["write-audit-exports"]["Statement"],
            json!([{
                "Sid": "WriteUnderPrefix",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Resource": [
                    format!("arn:aws:s3:::{name}/user-events-audit/*"),
                    format!("arn:aws:s3:::{name}/auditlog-digest/user-events-audit/*")
                ]
            }]),
            "{case}"
        );
    }
}

/// The README's registration step with the stack's outputs. The verification write then fails
/// where it must: the role trusts only the vendor's export role, and this test runs as another
/// principal, so AssumeRole is denied, and the message names the role and the external id.
fn register_and_verify(stack: &Value, external_id: &str) {
    let data = tempfile::tempdir().unwrap();
    let bucket = stack["outputs"]["BucketName"].as_str().unwrap();
    let role = stack["outputs"]["WriterRoleArn"].as_str().unwrap();
    let (ok, stdout, stderr) = auditlog(
        data.path(),
        &[
            "destinations",
            "add",
            "--tenant",
            "acme",
            "--bucket",
            bucket,
            "--region",
            "us-east-1",
            "--role-arn",
            role,
            "--external-id",
            external_id,
        ],
    );
    assert!(ok, "{stderr}");
    let added: Value = serde_json::from_str(&stdout).unwrap();
    let id = added["id"].as_str().unwrap();
    let (ok, stdout, _) = auditlog(data.path(), &["destinations", "verify", id]);
    assert!(!ok, "only the vendor's role may assume {role}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["ok"], false, "{report}");
    let error = report["error"].as_str().unwrap();
    let hint = report["hint"].as_str().unwrap();
    assert!(
        error.starts_with(&format!("AssumeRole denied for {role}")),
        "{report}"
    );
    assert!(
        hint.contains(&format!("external id {external_id}")),
        "{report}"
    );
}

#[test]
fn generated_policies_are_accepted_by_moto() {
    let bucket = unique("policy-check");
    for datasync in [false, true] {
        let bucket = format!("{bucket}-{datasync}");
        let mut args = vec!["bucket", "--bucket", &bucket, "--principal", VENDOR_ROLE];
        if datasync {
            args.push("--datasync");
        }
        let policy = auditlog_policy(&args);
        let applied = aws_check(&["put-bucket-policy", &bucket, &policy.to_string()]);
        assert_eq!(applied, policy);
    }
    let trust = auditlog_policy(&[
        "trust",
        "--vendor-role",
        VENDOR_ROLE,
        "--external-id",
        "tenant-42",
    ]);
    let applied = aws_check(&["put-trust-policy", &unique("writer"), &trust.to_string()]);
    assert_eq!(applied, trust);
}
