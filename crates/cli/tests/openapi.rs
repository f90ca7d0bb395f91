//! The OpenAPI document against the real service: the committed copy is what the code makes,
//! `serve` publishes it, Schemathesis (a property-based API tester no one here wrote) finds no
//! answer that breaks it, and a client generated from it by `openapi-python-client` sends,
//! filters and pages.
//!
//! The Python tools come from the interpreter in `AUDITLOG_TEST_PYTHON` (set by
//! `scripts/test`), or `python3`; `scripts/test` installs them when they are missing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Server, auditlog, start_server_with};
use serde_json::Value;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> String {
    std::env::var("AUDITLOG_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// `serve` on a fresh directory. AWS endpoints point at a closed loopback port: an S3
/// destination Schemathesis adds must never send a request off this machine.
fn server(data: &Path) -> Server {
    start_server_with(
        data,
        &[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
            ("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9"),
            ("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9"),
            ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9"),
            ("AWS_ACCESS_KEY_ID", "unused"),
            ("AWS_SECRET_ACCESS_KEY", "unused"),
            ("AWS_REGION", "us-east-1"),
        ],
    )
}

fn make_key(data: &Path, tenant: &str, scopes: &str) -> String {
    let (ok, stdout, stderr) = auditlog(
        data,
        &[
            "keys", "create", "--tenant", tenant, "--scopes", scopes, "--json",
        ],
    );
    assert!(ok, "keys create failed: {stderr}");
    let made: Value = serde_json::from_str(&stdout).unwrap();
    made["key"].as_str().unwrap().to_string()
}

fn stop(mut server: Server) {
    let _ = server.child.kill();
    let _ = server.child.wait();
}

#[test]
fn the_committed_document_is_what_the_code_generates() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, printed, stderr) = auditlog(dir.path(), &["openapi"]);
    assert!(ok, "auditlog openapi failed: {stderr}");
    let committed = std::fs::read_to_string(repo_root().join("docs/openapi.json")).unwrap();
    assert!(
        committed == printed,
        "docs/openapi.json is not what the code generates; run \
         `cargo run -q -- openapi > docs/openapi.json` and commit it"
    );
}

#[tokio::test]
async fn serve_publishes_the_document_without_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path());
    let (_, printed, _) = auditlog(dir.path(), &["openapi"]);
    let served = reqwest::get(format!("{}/v1/openapi.json", server.url))
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(
        served.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    let served: Value = served.json().await.unwrap();
    let printed: Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(served, printed);
    stop(server);
}

#[test]
fn schemathesis_finds_no_failure_in_any_operation() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path());
    let key = make_key(dir.path(), "fuzz", "write,read,admin");
    let report = dir.path().join("schemathesis");
    let out = Command::new(python())
        .args(["-m", "schemathesis.cli"])
        .arg("--config-file")
        .arg(repo_root().join("tests/schemathesis/schemathesis.toml"))
        .args(["run", &format!("{}/v1/openapi.json", server.url)])
        .args(["--header", &format!("Authorization: Bearer {key}")])
        .arg("--report-dir")
        .arg(&report)
        // Its cache of found failures goes in the temporary directory, not the source tree.
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .output()
        .expect("run schemathesis (pip install schemathesis)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "schemathesis found failures:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stop(server);
}

#[test]
fn a_generated_python_client_sends_filters_and_pages() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path());
    let key = make_key(dir.path(), "client", "write,read");
    let generated = dir.path().join("auditlog_client");
    let out = Command::new(python())
        .args(["-m", "openapi_python_client", "generate", "--meta", "none"])
        .arg("--path")
        .arg(repo_root().join("docs/openapi.json"))
        .arg("--output-path")
        .arg(&generated)
        .output()
        .expect("run openapi-python-client (pip install openapi-python-client)");
    assert!(
        out.status.success(),
        "generation failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(python())
        .arg(repo_root().join("tests/schemathesis/client_roundtrip.py"))
        .arg(&server.url)
        .env("PYTHONPATH", dir.path())
        .env("AUDITLOG_KEY", &key)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the generated client failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    stop(server);
}
