//! The real binary refuses settings AWS would refuse later, before it takes any request, and
//! says why in its JSON log (what an operator sees in CloudWatch after a bad deploy).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::process::Command;

#[test]
fn a_request_limit_over_what_lambda_accepts_stops_the_function_at_init() {
    let out = Command::new(env!("CARGO_BIN_EXE_auditlog-ingest"))
        .env("AUDITLOG_MAX_REQUEST_BYTES", "8388608")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .output()
        .expect("run auditlog-ingest");
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.contains("ingest function cannot start"))
        .unwrap_or_else(|| panic!("no init failure logged: {stdout}"));
    let entry: serde_json::Value = serde_json::from_str(line).expect("a JSON log line");
    assert_eq!(entry["level"], "ERROR");
    assert!(
        entry["error"]
            .as_str()
            .unwrap()
            .contains("AUDITLOG_MAX_REQUEST_BYTES"),
        "{entry}"
    );
}
