//! The real binary refuses unsafe export settings before it exports anything, and says why in
//! its JSON log.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::process::Command;

fn init_error(env: &[(&str, &str)]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_auditlog-export"))
        .envs(env.iter().copied())
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .output()
        .expect("run auditlog-export");
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.contains("export function cannot start"))
        .unwrap_or_else(|| panic!("no init failure logged: {stdout}"));
    serde_json::from_str(line).expect("a JSON log line")
}

#[test]
fn a_retention_shorter_than_the_safe_minimum_stops_the_function_at_init() {
    let entry = init_error(&[("AUDITLOG_RETENTION", "12h")]);
    let error = entry["error"].as_str().unwrap();
    assert!(error.contains("safe minimum"), "{entry}");
}

#[test]
fn a_window_that_does_not_divide_a_day_stops_the_function_at_init() {
    let entry = init_error(&[("AUDITLOG_EXPORT_WINDOW", "7s")]);
    assert!(
        entry["error"].as_str().unwrap().contains("divide a day"),
        "{entry}"
    );
}
