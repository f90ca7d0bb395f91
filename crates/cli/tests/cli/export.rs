//! Exporting to a directory from `serve`, the destination commands' reports, and `verify` on
//! what was delivered and on copies tampered with.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::common::{BIN, auditlog, create_key, send, start_server_with};

/// Every event id in the `.ndjson.gz` files under `root`, with how often it appears.
pub(crate) fn exported_ids(root: &Path) -> std::collections::HashMap<String, usize> {
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

/// On-prem: `serve` on SQLite, with no AWS region set and no S3 destination, never loads the
/// AWS configuration, whose region lookup would ask the instance metadata service (here a
/// closed port) and log a warning at every start. Its export passes run all the same.
#[test]
fn serve_without_an_s3_destination_never_asks_for_a_region() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = crate::common::start_server_without(
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
