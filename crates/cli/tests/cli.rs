//! The `auditlog` binary end to end: `serve` on a fresh data directory, keys made by a second
//! process, `send` and `query` against it, graceful stop on SIGTERM, and logs that never carry a
//! key or a masked value.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

mod common;

use common::{BIN, auditlog, auditlog_with, create_key, send, start_server, start_server_with};

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

/// Every event id in the `.ndjson.gz` files under `root`, with how often it appears.
fn exported_ids(root: &Path) -> std::collections::HashMap<String, usize> {
    use std::io::Read as _;
    let mut ids = std::collections::HashMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for path in entries.map(|e| e.expect("entry").path()) {
            if path.is_dir() {
                stack.push(path);
            } else if path.to_string_lossy().ends_with(".ndjson.gz") {
                let mut text = String::new();
                flate2::read::GzDecoder::new(std::fs::File::open(&path).expect("open"))
                    .read_to_string(&mut text)
                    .expect("gunzip");
                for line in text.lines() {
                    let event: Value = serde_json::from_str(line).expect("json line");
                    // The service's own records have ids the test cannot know: named by action.
                    let action = event["action"].as_str().expect("action");
                    let name = if action.starts_with("auditlog.") {
                        action
                    } else {
                        event["id"].as_str().expect("id")
                    };
                    *ids.entry(name.to_string()).or_insert(0) += 1;
                }
            }
        }
    }
    ids
}

#[test]
fn serve_exports_to_a_directory_and_the_destination_commands_report_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let out = dir.path().join("export");
    let key = create_key(&data, "demo");
    let (ok, stdout, stderr) = auditlog(
        &data,
        &[
            "destinations",
            "add",
            "--tenant",
            "demo",
            "--dir",
            out.to_str().expect("utf8"),
        ],
    );
    assert!(ok, "{stderr}");
    let added: Value = serde_json::from_str(&stdout).expect("json");
    let id = added["id"].as_str().expect("id").to_string();
    assert!(id.starts_with("dst_"), "{id}");
    assert_eq!(added["directory"]["prefix"], "user-events-audit/");

    // The records of the key and destination made above sit in windows before the events'.
    std::thread::sleep(Duration::from_millis(1_100));
    // Short windows so the test need not wait five minutes; serve exports on its own schedule.
    let window = [
        ("AUDITLOG_EXPORT_WINDOW", "1s"),
        ("AUDITLOG_EXPORT_GRACE", "1s"),
    ];
    let mut server = start_server_with(&data, &window);
    let mut responses = String::new();
    for n in 0..3 {
        if n > 0 {
            // One event per 1 s window: three objects in the stream.
            std::thread::sleep(Duration::from_millis(1_100));
        }
        let id = format!("exp-{n}");
        let stdout = send(
            &data,
            &server,
            &key,
            &["--id", &id, "--action", "doc.read", "--actor-id", "u1"],
            &[],
        );
        // `send` prints the status line, then the ingest answer: one answer per line makes a
        // receipts file.
        let body = stdout
            .split_once('\n')
            .map(|(_, body)| body)
            .unwrap_or_default();
        let answer: Value = serde_json::from_str(body).expect("json answer");
        responses.push_str(&format!("{answer}\n"));
    }
    // The three events, and the service's records of the key and the destination made above:
    // the self-audit events travel with the stream like any other.
    let mut expected: std::collections::HashMap<String, usize> =
        (0..3).map(|n| (format!("exp-{n}"), 1)).collect();
    expected.insert("auditlog.key.created".into(), 1);
    expected.insert("auditlog.destination.added".into(), 1);
    let mut ids = exported_ids(&out);
    for _ in 0..100 {
        if ids.len() == expected.len() {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
        ids = exported_ids(&out);
    }
    assert_eq!(
        ids, expected,
        "each event exported once by serve's schedule"
    );

    verify_catches_tampering(&out, &responses);

    let (ok, stdout, stderr) = auditlog(&data, &["destinations", "status", &id]);
    assert!(ok, "{stderr}");
    let status: Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(status["events_delivered"], 5, "{status}");
    assert_eq!(status["healthy"], true);
    assert_eq!(status["backlog"]["events"], 0);
    assert!(status["last_success_at"].is_string());

    let (ok, stdout, stderr) = auditlog(&data, &["destinations", "verify", &id]);
    assert!(ok, "{stdout}{stderr}");
    let verified: Value = serde_json::from_str(&stdout).expect("json");
    let wrote = verified["wrote"].as_str().expect("key");
    assert!(out.join(wrote).is_file(), "{wrote}");

    let _ = server.child.kill();
    let _ = server.child.wait();

    // `auditlog export`: one pass, nothing left to do; a short retention is refused.
    let (ok, stdout, stderr) = Command::new(BIN)
        .args(["export"])
        .envs(window)
        .env("AUDITLOG_DATA_DIR", &data)
        .output()
        .map(|o| {
            (
                o.status.success(),
                String::from_utf8_lossy(&o.stdout).to_string(),
                String::from_utf8_lossy(&o.stderr).to_string(),
            )
        })
        .expect("run export");
    assert!(ok, "{stderr}");
    let summary: Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(
        (summary["failed"].as_u64(), summary["events"].as_u64()),
        (Some(0), Some(0)),
        "{summary}"
    );
    let (ok, _, stderr) = auditlog(&data, &["export", "--retention", "1h"]);
    assert!(!ok && stderr.contains("safe minimum"), "{stderr}");

    // Bad S3 fields are named; list and remove.
    let (ok, _, stderr) = auditlog(
        &data,
        &[
            "destinations",
            "add",
            "--tenant",
            "demo",
            "--bucket",
            "Bad_Bucket",
            "--expected-bucket-owner",
            "12",
        ],
    );
    assert!(
        !ok && stderr.contains("--bucket:") && stderr.contains("--expected-bucket-owner:"),
        "{stderr}"
    );
    let (ok, stdout, _) = auditlog(&data, &["destinations", "list", "--tenant", "demo"]);
    assert!(ok && stdout.contains(&id), "{stdout}");
    let (ok, _, _) = auditlog(&data, &["destinations", "remove", &id]);
    assert!(ok);
    let (ok, stdout, _) = auditlog(&data, &["destinations", "list"]);
    assert!(ok && !stdout.contains(&id), "{stdout}");
}

/// The export files, sorted by key.
fn export_files(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for path in std::fs::read_dir(&dir)
            .expect("dir")
            .map(|e| e.expect("entry").path())
        {
            if path.is_dir() {
                stack.push(path);
            } else if path.to_string_lossy().ends_with(".ndjson.gz") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn gunzip_file(path: &Path) -> String {
    use std::io::Read as _;
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).expect("open"))
        .read_to_string(&mut text)
        .expect("gunzip");
    text
}

fn gzip_file(path: &Path, text: &str) {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(text.as_bytes()).expect("gzip");
    std::fs::write(path, encoder.finish().expect("gzip")).expect("write");
}

/// A copy of the export directory, tampered with by `damage`.
fn tampered(out: &Path, damage: impl FnOnce(&[PathBuf])) -> tempfile::TempDir {
    let copy = tempfile::tempdir().expect("tempdir");
    for file in export_files(out) {
        let to = copy.path().join(file.strip_prefix(out).expect("under out"));
        std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
        std::fs::copy(&file, &to).expect("copy");
    }
    damage(&export_files(copy.path()));
    copy
}

/// `auditlog verify` passes the untouched export (receipts included), and names each kind of
/// damage done to a copy of it, exiting 1.
fn verify_catches_tampering(out: &Path, responses: &str) {
    let scratch = tempfile::tempdir().expect("tempdir");
    let receipts = scratch.path().join("receipts.ndjson");
    std::fs::write(&receipts, responses).expect("write receipts");
    let verify = |dir: &Path| {
        let output = Command::new(BIN)
            .args(["verify", dir.to_str().expect("utf8"), "--receipts"])
            .arg(&receipts)
            .output()
            .expect("run verify");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).to_string(),
        )
    };
    let (code, stdout) = verify(out);
    assert_eq!(code, Some(0), "{stdout}");
    // The service's records come first, in one or two objects of their own (the test waits a
    // window before sending), then one object per event sent.
    let n = export_files(out).len();
    assert!((4..=5).contains(&n), "{n} objects");
    assert!(
        stdout.contains(&format!(
            "{n} objects, 5 events, last seq 5, 3 receipts checked;"
        )) && stdout.contains(": ok"),
        "{stdout}"
    );

    type Damage = Box<dyn FnOnce(&[PathBuf])>;
    let (first, second, third) = (n - 3, n - 2, n - 1);
    let cases: Vec<(&str, Damage, String)> = vec![
        (
            "modify a line",
            Box::new(move |files| {
                let text = gunzip_file(&files[second]).replacen("doc.read", "doc.wipe", 1);
                gzip_file(&files[second], &text);
            }),
            "the event does not hash to its sha256 (modified)".into(),
        ),
        (
            "delete an object",
            Box::new(move |files| std::fs::remove_file(&files[second]).expect("rm")),
            // Events are numbered: the 2 records, then exp-0, exp-1 (4), exp-2.
            "sequence numbers 4 missing".into(),
        ),
        (
            "reorder two objects",
            Box::new(move |files| {
                let (a, b) = (
                    std::fs::read(&files[first]).expect("read"),
                    std::fs::read(&files[third]).expect("read"),
                );
                std::fs::write(&files[first], b).expect("write");
                std::fs::write(&files[third], a).expect("write");
            }),
            "(reordered, duplicated or inserted)".into(),
        ),
        (
            "insert a forged object",
            Box::new(move |files| {
                let forged = files[second].with_file_name("demo_20000101T000000Z_x.ndjson.gz");
                std::fs::copy(&files[first], forged).expect("copy");
            }),
            "does not follow".into(),
        ),
        (
            "truncate a file",
            Box::new(move |files| {
                let bytes = std::fs::read(&files[third]).expect("read");
                std::fs::write(&files[third], &bytes[..bytes.len() / 2]).expect("write");
            }),
            "cannot be read".into(),
        ),
    ];
    for (what, damage, expected) in cases {
        let copy = tampered(out, damage);
        let (code, stdout) = verify(copy.path());
        assert_eq!(code, Some(1), "{what}: {stdout}");
        assert!(stdout.contains(&expected), "{what}: {stdout}");
        assert!(stdout.contains("PROBLEM "), "{what}: {stdout}");
    }
}

/// Every change an operator makes at the CLI is recorded in the tenant's log with the OS user
/// and host as the actor, and a read through the API with the key that asked.
#[test]
fn operator_changes_are_recorded_in_the_tenants_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let out = dir.path().join("export");
    let env = [("USER", "ops-test")];
    let run = |args: &[&str]| {
        let (ok, stdout, stderr) = auditlog_with(&data, args, &env);
        assert!(ok, "{args:?}: {stderr}");
        stdout
    };
    let made = |stdout: String| -> (String, String) {
        let made: Value = serde_json::from_str(&stdout).expect("json");
        (
            made["key"].as_str().expect("key").to_string(),
            made["key_id"].as_str().expect("key id").to_string(),
        )
    };
    let (reader, reader_id) = made(run(&[
        "keys", "create", "--tenant", "acme", "--scopes", "read", "--label", "siem", "--json",
    ]));
    let (_, writer_id) = made(run(&["keys", "create", "--tenant", "acme", "--json"]));
    let added: Value = serde_json::from_str(&run(&[
        "destinations",
        "add",
        "--tenant",
        "acme",
        "--dir",
        out.to_str().expect("utf8"),
    ]))
    .expect("json");
    let destination = added["id"].as_str().expect("id").to_string();
    run(&["destinations", "verify", &destination]);
    run(&["destinations", "remove", &destination]);
    let link = run(&["console", "--tenant", "acme", "--display-name", "Grace"]);
    assert!(link.contains("/console/open?token=vsl_"), "{link}");
    run(&["keys", "revoke", &writer_id]);
    let (ok, _, stderr) = auditlog_with(&data, &["keys", "revoke", "0000000000000000"], &env);
    assert!(!ok && stderr.contains("no key"), "{stderr}");
    let (ok, _, stderr) = auditlog_with(
        &data,
        &[
            "keys",
            "create",
            "--tenant",
            "acme",
            "--label",
            "two\nlines",
        ],
        &env,
    );
    assert!(!ok && stderr.contains("--label:"), "{stderr}");

    let mut server = start_server(&data);
    let listed = run(&[
        "query",
        "--url",
        &server.url,
        "--key",
        &reader,
        "--action",
        "auditlog.*",
        "--all",
        "--format",
        "json",
    ]);
    let records: Vec<Value> = listed
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    let actions: Vec<&str> = records
        .iter()
        .map(|r| r["action"].as_str().expect("action"))
        .collect();
    assert_eq!(
        actions,
        [
            "auditlog.key.created",
            "auditlog.key.created",
            "auditlog.destination.added",
            "auditlog.destination.verified",
            "auditlog.destination.removed",
            "auditlog.viewer_session.issued",
            "auditlog.key.revoked",
        ],
        "one record per change, in order; the failed revoke changed nothing"
    );
    for record in &records {
        assert_eq!(record["tenant"], "acme");
        assert!(
            record["actor"]["id"]
                .as_str()
                .is_some_and(|id| id.starts_with("ops-test@")),
            "{record}"
        );
        assert_eq!(record["actor"]["type"], "user");
        assert_eq!(record["metadata"]["via"], "cli");
        assert!(!record.to_string().contains(&reader), "no key in a record");
    }
    assert_eq!(
        records[0]["targets"],
        serde_json::json!([{"id": reader_id, "type": "api_key", "name": "siem"}])
    );
    assert_eq!(
        records[0]["metadata"]["scopes"],
        serde_json::json!(["read"])
    );
    assert_eq!(records[2]["targets"][0]["id"], destination.as_str());
    assert_eq!(records[2]["metadata"]["destination_kind"], "directory");
    assert_eq!(records[3]["outcome"], "success");
    assert!(records[3]["metadata"]["wrote"].as_str().is_some());
    assert_eq!(records[5]["targets"][0]["name"], "Grace");
    assert_eq!(records[6]["targets"][0]["id"], writer_id.as_str());

    // The query above was itself recorded, with the reader's key as its actor.
    let again = run(&[
        "query",
        "--url",
        &server.url,
        "--key",
        &reader,
        "--action",
        "auditlog.events.listed",
        "--format",
        "json",
    ]);
    let read: Value = serde_json::from_str(again.lines().next().expect("a record")).expect("json");
    assert_eq!(read["actor"]["id"], reader_id.as_str());
    assert_eq!(read["metadata"]["filters"]["action"], "auditlog.*");
    assert_eq!(read["metadata"]["returned"], 7);
    let _ = server.child.kill();
    let _ = server.child.wait();
}

/// An Azure destination at the CLI: every bad field named by its flag, and the credential kept
/// as the reference it was given, never its value.
#[test]
fn azure_destinations_are_checked_by_flag_and_keep_references() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let (ok, _, stderr) = auditlog(
        &data,
        &[
            "destinations",
            "add",
            "--tenant",
            "acme",
            "--azure-account",
            "Bad_Name",
            "--azure-container=-x",
            "--azure-endpoint",
            "http://collector.example",
            "--azure-sas-env",
            "lower",
        ],
    );
    assert!(!ok, "{stderr}");
    for flag in [
        "--azure-account:",
        "--azure-container:",
        "--azure-endpoint:",
        "--azure-sas-env/--azure-sas-file:",
    ] {
        assert!(stderr.contains(flag), "{flag} in {stderr}");
    }
    let (ok, _, stderr) = auditlog(
        &data,
        &[
            "destinations",
            "add",
            "--tenant",
            "acme",
            "--azure-account",
            "acmeaudit",
            "--azure-container",
            "audit",
        ],
    );
    assert!(
        !ok && stderr.contains("azure"),
        "a credential is required: {stderr}"
    );
    let (ok, stdout, stderr) = auditlog_with(
        &data,
        &[
            "destinations",
            "add",
            "--tenant",
            "acme",
            "--azure-account",
            "acmeaudit",
            "--azure-container",
            "audit-log",
            "--azure-key-env",
            "ACME_AZURE_KEY",
        ],
        &[("ACME_AZURE_KEY", "c2VjcmV0LWtleS12YWx1ZQ==")],
    );
    assert!(ok, "{stderr}");
    let added: Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(
        added["azure"]["credential"],
        serde_json::json!({"kind": "shared_key", "key": {"env": "ACME_AZURE_KEY"}})
    );
    assert!(!stdout.contains("c2VjcmV0LWtleS12YWx1ZQ=="), "{stdout}");
}

/// On-prem: a destination declared in the environment (or a file) is registered at the first
/// start, exported to on the declared cron schedule, kept at every start after, and never
/// silently replaced; a bad declaration stops the start, naming the variable and the field.
#[test]
fn a_declared_destination_is_registered_once_and_never_repointed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let out = dir.path().join("export");
    let serve =
        |env: &[(&str, &str)]| auditlog_with(&data, &["serve", "--listen", "127.0.0.1:0"], env);

    let (ok, _, stderr) = serve(&[(
        "AUDITLOG_DESTINATION",
        r#"{"tenant": "On Prem", "target": {"kind": "directory", "path": "relative", "prefix": "../up"}}"#,
    )]);
    assert!(!ok, "{stderr}");
    for named in [
        "AUDITLOG_DESTINATION:",
        "/tenant:",
        "/target/path:",
        "/target/prefix:",
    ] {
        assert!(stderr.contains(named), "{named} in {stderr}");
    }
    let (ok, _, stderr) = serve(&[("AUDITLOG_DESTINATION", "{not json")]);
    assert!(
        !ok && stderr.contains("AUDITLOG_DESTINATION: not a destination declaration"),
        "{stderr}"
    );
    let (ok, _, stderr) = serve(&[("AUDITLOG_EXPORT_SCHEDULE", "every hour")]);
    assert!(
        !ok && stderr.contains("AUDITLOG_EXPORT_SCHEDULE"),
        "{stderr}"
    );

    let declaration = dir.path().join("destination.json");
    let declare = |prefix: &str| {
        std::fs::write(
            &declaration,
            format!(
                r#"{{"id": "dst_onprem", "tenant": "onprem", "target": {{"kind": "directory", "path": "{}", "prefix": "{prefix}"}}}}"#,
                out.display()
            ),
        )
        .expect("write declaration");
    };
    declare("user-events-audit/");
    let file = declaration.to_str().expect("utf8").to_string();
    let env = [
        ("AUDITLOG_DESTINATION_FILE", file.as_str()),
        // Every second, with a seconds field, as on-prem schedules are written.
        ("AUDITLOG_EXPORT_SCHEDULE", "*/1 * * * * *"),
        ("AUDITLOG_EXPORT_WINDOW", "1s"),
        ("AUDITLOG_EXPORT_GRACE", "1s"),
    ];
    let key = create_key(&data, "onprem");
    let mut server = start_server_with(&data, &env);
    send(
        &data,
        &server,
        &key,
        &["--id", "onprem-1", "--action", "doc.read"],
        &[],
    );
    let mut ids = exported_ids(&out);
    for _ in 0..100 {
        if ids.contains_key("onprem-1") {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
        ids = exported_ids(&out);
    }
    assert_eq!(
        ids.get("onprem-1"),
        Some(&1),
        "exported on the declared schedule: {ids:?}"
    );
    assert_eq!(
        ids.get("auditlog.destination.added"),
        Some(&1),
        "its registration was recorded in the tenant's log: {ids:?}"
    );
    let _ = server.child.kill();
    let _ = server.child.wait();

    // The same declaration again: kept, not added twice.
    let mut again = start_server_with(&data, &env);
    let _ = again.child.kill();
    let _ = again.child.wait();
    let (ok, stdout, _) = auditlog(&data, &["destinations", "list"]);
    assert!(ok);
    let listed: Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(
        listed["destinations"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );

    // Another target under the same id is refused, and the stored one stays.
    declare("elsewhere/");
    let (ok, _, stderr) = serve(&env);
    assert!(
        !ok && stderr.contains("AUDITLOG_DESTINATION_FILE: destination dst_onprem is stored with another tenant or target"),
        "{stderr}"
    );
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
        exports_table: format!("{run}-exports"),
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

/// `auditlog signing-keys`: none until needed; `public` makes the first; `rotate` adds one that
/// `list` marks current; `public` prints both, in the form `verify --public-keys` reads.
#[test]
fn signing_keys_are_listed_rotated_and_published() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path();
    let (ok, stdout, stderr) = auditlog(data, &["signing-keys", "list"]);
    assert!(
        ok && stdout.contains("no signing keys yet"),
        "{stdout}{stderr}"
    );
    let (ok, stdout, stderr) = auditlog(data, &["signing-keys", "public"]);
    assert!(ok, "{stderr}");
    let first: Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(first["keys"].as_array().map(Vec::len), Some(1), "{first}");
    assert_eq!(first["keys"][0]["algorithm"], "Ed25519");
    let (ok, stdout, stderr) = auditlog(data, &["signing-keys", "rotate"]);
    assert!(
        ok && stdout.contains("new signing key ed25519-"),
        "{stdout}{stderr}"
    );
    let (ok, stdout, _) = auditlog(data, &["signing-keys", "list"]);
    assert!(ok);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    let first_id = first["keys"][0]["key_id"].as_str().expect("id");
    assert!(
        lines[0].starts_with(first_id) && !lines[0].contains("(current)"),
        "{stdout}"
    );
    assert!(lines[1].ends_with("(current)"), "{stdout}");
    let (ok, stdout, _) = auditlog(data, &["signing-keys", "public"]);
    assert!(ok);
    let both: Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(both["keys"].as_array().map(Vec::len), Some(2), "{both}");
    assert!(!stdout.contains("seed"), "{stdout}");
    // What it prints is what the verifier takes.
    let keys_file = dir.path().join("keys.json");
    std::fs::write(&keys_file, &stdout).expect("write");
    let empty = tempfile::tempdir().expect("tempdir");
    let verify_empty = || {
        auditlog(
            data,
            &[
                "verify",
                empty.path().to_str().expect("utf8"),
                "--public-keys",
                keys_file.to_str().expect("utf8"),
            ],
        )
    };
    let (ok, _, stderr) = verify_empty();
    assert!(
        !ok && stderr.contains("no exported objects or digests"),
        "{stderr}"
    );
    std::fs::write(
        &keys_file,
        stdout.replace(first_id, "ed25519-0000000000000000"),
    )
    .expect("write");
    let (ok, _, stderr) = verify_empty();
    assert!(
        !ok && stderr.contains("not this key's fingerprint"),
        "{stderr}"
    );
}

/// On-prem: `serve` on SQLite, with no AWS region set and no S3 destination, never loads the
/// AWS configuration, whose region lookup would ask the instance metadata service (here a
/// closed port) and log a warning at every start. Its export passes run all the same.
#[test]
fn serve_without_an_s3_destination_never_asks_for_a_region() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = common::start_server_without(
        dir.path(),
        &[
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9"),
            ("AUDITLOG_EXPORT_SCHEDULE", "*/1 * * * * *"),
            ("AUDITLOG_LOG", "debug"),
        ],
        &[
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
            "AWS_PROFILE",
            "AWS_CONFIG_FILE",
        ],
    );
    let mut lines = server.started.clone();
    let until = std::time::Instant::now() + Duration::from_secs(3);
    while let Some(left) = until.checked_duration_since(std::time::Instant::now()) {
        let Ok(line) = server.log.recv_timeout(left) else {
            break;
        };
        lines.push(line);
    }
    for line in &lines {
        assert!(
            !line.to_lowercase().contains("imds") && !line.contains("region"),
            "{line}"
        );
    }
    let passes = lines
        .iter()
        .filter(|l| l.contains("export pass done"))
        .count();
    let _ = server.child.kill();
    let _ = server.child.wait();
    assert!(passes >= 1, "the export passes ran");
}
