//! The `auditlog` binary end to end: `serve` on a fresh data directory, keys made by a second
//! process, `send` and `query` against it, graceful stop on SIGTERM, and logs that never carry a
//! key or a masked value.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_auditlog");

fn auditlog(data_dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .env("AUDITLOG_DATA_DIR", data_dir)
        .env_remove("AUDITLOG_KEY")
        .output()
        .expect("run auditlog");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

struct Server {
    child: Child,
    url: String,
    log: mpsc::Receiver<String>,
}

fn start_server(data_dir: &Path) -> Server {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("AUDITLOG_DATA_DIR", data_dir)
        .env("AUDITLOG_LOG_FORMAT", "json")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn serve");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let url = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("serve printed no address");
        let entry: Value = serde_json::from_str(&line).expect("log lines are JSON");
        if let Some(address) = entry["address"].as_str() {
            break format!("http://{address}");
        }
    };
    Server {
        child,
        url,
        log: rx,
    }
}

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
    let (ok, stdout, _) = auditlog(
        &data,
        &[
            "send",
            "--url",
            &server.url,
            "--key",
            &key,
            "--action",
            "user.login",
            "--actor-id",
            "ada",
        ],
    );
    assert!(ok, "{stdout}");

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
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["request"]["params"]["newPassword"], "[REDACTED]");
    assert_eq!(lines[1]["actor"]["id"], "ada");
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

#[test]
fn bad_settings_are_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ok, _, stderr) = auditlog(dir.path(), &["serve", "--purge-schedule", "every day"]);
    assert!(
        !ok && stderr.contains("AUDITLOG_PURGE_SCHEDULE"),
        "{stderr}"
    );
    let (ok, _, stderr) = auditlog(dir.path(), &["serve", "--retention", "forever"]);
    assert!(!ok && stderr.contains("forever"), "{stderr}");
    let (ok, _, stderr) = auditlog(dir.path(), &["keys", "create", "--tenant", "Not Valid"]);
    assert!(!ok && stderr.contains("tenant"), "{stderr}");
    let (ok, _, stderr) = auditlog(
        dir.path(),
        &["keys", "create", "--tenant", "ok", "--scopes", "root"],
    );
    assert!(!ok && stderr.contains("unknown scope"), "{stderr}");
}

#[test]
fn purge_command_runs_one_pass() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ok, stdout, stderr) = auditlog(dir.path(), &["purge"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("purged 0 expired events"), "{stdout}");
}

#[test]
fn policy_commands_print_valid_iam_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let role = "arn:aws:iam::123456789012:role/auditlog-export";
    let (ok, stdout, stderr) = auditlog(
        dir.path(),
        &[
            "policy",
            "bucket",
            "--bucket",
            "acme-audit",
            "--principal",
            role,
            "--datasync",
        ],
    );
    assert!(ok, "{stderr}");
    let policy: Value = serde_json::from_str(&stdout).expect("bucket policy is JSON");
    assert_eq!(policy["Version"], "2012-10-17");
    assert_eq!(policy["Statement"].as_array().map(Vec::len), Some(3));

    let (ok, stdout, stderr) = auditlog(
        dir.path(),
        &[
            "policy",
            "trust",
            "--vendor-role",
            role,
            "--external-id",
            "tenant-42",
        ],
    );
    assert!(ok, "{stderr}");
    let trust: Value = serde_json::from_str(&stdout).expect("trust policy is JSON");
    assert_eq!(
        trust["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"],
        "tenant-42"
    );

    let (ok, _, stderr) = auditlog(
        dir.path(),
        &[
            "policy",
            "bucket",
            "--bucket",
            "Bad_Bucket",
            "--principal",
            role,
        ],
    );
    assert!(!ok && stderr.contains("bucket name"), "{stderr}");
}

/// `AUDITLOG_STORE=dynamodb` makes the same CLI manage keys in the deployed tables (here
/// DynamoDB Local, which scripts/test starts), named by the variables the functions read.
#[test]
fn keys_are_managed_in_dynamodb_when_selected() {
    assert!(
        std::env::var("AWS_ENDPOINT_URL_DYNAMODB").is_ok(),
        "set AWS_ENDPOINT_URL_DYNAMODB to a DynamoDB Local (scripts/test starts one)"
    );
    let run = format!("cli{}", std::process::id());
    let config = auditlog_aws::DynamoConfig {
        events_table: format!("{run}-events"),
        keys_table: format!("{run}-keys"),
        shards: 2,
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let store = runtime.block_on(async {
        let store = auditlog_aws::DynamoStore::connect(config.clone()).await;
        auditlog_aws::tables::create_tables(store.client(), store.config())
            .await
            .expect("create tables");
        store
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let with_tables = |args: &[&str]| {
        let out = Command::new(BIN)
            .args(args)
            .env("AUDITLOG_STORE", "dynamodb")
            .env("AUDITLOG_EVENTS_TABLE", &config.events_table)
            .env("AUDITLOG_KEYS_TABLE", &config.keys_table)
            .env("AUDITLOG_DATA_DIR", dir.path())
            .output()
            .expect("run auditlog");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (ok, stdout, stderr) = with_tables(&[
        "keys", "create", "--tenant", "acme", "--scopes", "write", "--json",
    ]);
    assert!(ok, "{stderr}");
    let created: Value = serde_json::from_str(&stdout).expect("json");
    let key_id = created["key_id"].as_str().expect("key id").to_string();

    use auditlog_core::store::ApiKeyStore;
    let record = runtime
        .block_on(store.find_key(&key_id))
        .expect("lookup")
        .expect("the key is in the DynamoDB keys table");
    assert_eq!(record.tenant, "acme");
    assert!(auditlog_core::keys::key_matches(
        created["key"].as_str().expect("key"),
        &record.hash
    ));
    assert!(
        !dir.path().join("auditlog.sqlite3").exists(),
        "nothing was written to SQLite"
    );

    let (ok, stdout, _) = with_tables(&["keys", "list", "--json"]);
    assert!(ok && stdout.contains(&key_id), "{stdout}");
    let (ok, _, _) = with_tables(&["keys", "revoke", &key_id]);
    assert!(ok);
    let record = runtime
        .block_on(store.find_key(&key_id))
        .expect("lookup")
        .expect("still there");
    assert!(record.revoked_at.is_some());
}
