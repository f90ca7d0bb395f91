//! The `auditlog` binary end to end: `serve` on a fresh data directory, keys made by a second
//! process, `send` and `query` against it, graceful stop on SIGTERM, and logs that never carry a
//! key or a masked value. One test binary in files by concern:
//!
//! - `export`: exporting to a directory, the destination commands' reports, `verify` on what
//!   was delivered and tampered with.
//! - `destinations`: destinations added by flag (Azure) and declared in the configuration.
//! - `operator`: the operator's commands (keys, policies, signing keys, purge, settings) and
//!   their records in the tenant's log.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

#[path = "../common/mod.rs"]
mod common;
mod destinations;
mod export;
mod operator;

use common::{auditlog, send, start_server};

#[test]
fn serve_keys_send_query_and_stop_gracefully() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");

    let (ok, stdout, _) = auditlog(
        &data,
        &[
            "keys",
            "create",
            "--tenant",
            "demo",
            "--scopes",
            "write,read",
            "--json",
        ],
    );
    assert!(ok, "{stdout}");
    let created: Value = serde_json::from_str(&stdout).expect("json");
    let key = created["key"].as_str().expect("key").to_string();
    let key_id = created["key_id"].as_str().expect("key id").to_string();
    assert!(
        data.join("auditlog.sqlite3").exists(),
        "data directory created on first use"
    );

    let mut server = start_server(&data);
    let secret = "hunter2-should-never-appear";
    let event = dir.path().join("event.json");
    std::fs::write(
        &event,
        format!(r#"{{"id":"cli-1","action":"user.password_changed","actor":{{"id":"u1"}},"request":{{"params":{{"uid":"u1","newPassword":"{secret}"}}}}}}"#),
    )
    .expect("write event");

    let (ok, stdout, stderr) = auditlog(
        &data,
        &[
            "send",
            "--url",
            &server.url,
            "--key",
            &key,
            "--file",
            event.to_str().expect("utf8"),
        ],
    );
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stdout.contains("HTTP 201") && stdout.contains("\"redacted\": 1"),
        "{stdout}"
    );
    send(
        &data,
        &server,
        &key,
        &["--action", "user.login", "--actor-id", "ada"],
        &[],
    );

    let (ok, stdout, stderr) = auditlog(
        &data,
        &[
            "query",
            "--url",
            &server.url,
            "--key",
            &key,
            "--format",
            "json",
            "--all",
            "--limit",
            "1",
        ],
    );
    assert!(ok, "{stderr}");
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    // The key's creation was recorded first; the paging session (a page of one event per
    // request) ends although each page read adds a record: those come after its pinned end.
    assert_eq!(lines.len(), 3, "{stdout}");
    assert_eq!(lines[0]["action"], "auditlog.key.created");
    assert_eq!(lines[0]["targets"][0]["id"], key_id.as_str());
    assert_eq!(lines[1]["request"]["params"]["newPassword"], "[REDACTED]");
    assert_eq!(lines[2]["actor"]["id"], "ada");
    let (ok, stdout, _) = auditlog(
        &data,
        &[
            "query",
            "--url",
            &server.url,
            "--key",
            &key,
            "--action",
            "user.*",
        ],
    );
    assert!(
        ok && stdout.contains("user.login") && stdout.contains("ACTION"),
        "{stdout}"
    );

    // Keys listed without secrets; a revoked key stops working while the server runs.
    let (ok, stdout, _) = auditlog(&data, &["keys", "list"]);
    assert!(
        ok && stdout.contains(&key_id) && !stdout.contains(&key),
        "{stdout}"
    );
    let (ok, _, _) = auditlog(&data, &["keys", "revoke", &key_id]);
    assert!(ok);
    let (ok, stdout, _) = auditlog(&data, &["send", "--url", &server.url, "--key", &key]);
    assert!(!ok && stdout.contains("HTTP 401"), "{stdout}");

    // SIGTERM: a clean exit.
    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill")
            .success()
    );
    let mut status = None;
    for _ in 0..100 {
        if let Some(s) = server.child.try_wait().expect("wait") {
            status = Some(s);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = status.expect("serve did not stop within 10 s of SIGTERM");
    assert!(status.success(), "{status:?}");

    let log: Vec<String> = server.log.try_iter().collect();
    let text = log.join("\n");
    assert!(text.contains("SIGTERM received"), "{text}");
    assert!(
        log.iter()
            .any(|l| l.contains("\"request_id\"") && l.contains("\"tenant\":\"demo\"")),
        "{text}"
    );
    assert!(!text.contains(&key), "the key reached the log");
    assert!(!text.contains(secret), "a masked value reached the log");

    // Data survives a restart.
    let mut again = start_server(&data);
    let (ok, _, _) = auditlog(
        &data,
        &[
            "keys", "create", "--tenant", "demo", "--scopes", "read", "--json",
        ],
    );
    assert!(ok);
    let _ = again.child.kill();
    let _ = again.child.wait();
}
