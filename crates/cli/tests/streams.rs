//! `auditlog streams` end to end, on the SQLite store: add a webhook stream, pause it (a delivery
//! pass then sends nothing), resume it (the pass sends every event once), replay it from a time
//! (the pass sends them again), read its status, and find each change in the tenant's log.
//! The receiver is a plain HTTP listener in this process.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

mod common;

use common::{auditlog_with, create_key, send, start_server_with};

/// `whsec_` and the base64 of 32 bytes, the form the webhook secret takes.
const SECRET: &str = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/// Accepts webhook posts on 127.0.0.1 and keeps the id of every record received, in order.
fn receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let received = Arc::new(Mutex::new(Vec::new()));
    let kept = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let records: Vec<Value> = serde_json::from_slice(&body).unwrap();
            kept.lock().unwrap().extend(
                records
                    .iter()
                    .map(|r| r["id"].as_str().unwrap().to_string()),
            );
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (url, received)
}

#[test]
fn streams_are_added_paused_resumed_replayed_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // The operator's settings that let a stream reach a plain-http receiver on loopback, and a
    // settle time short enough for the test.
    let env = [
        ("USER", "ops-test"),
        ("HOOK_SECRET", SECRET),
        ("AUDITLOG_STREAM_ALLOW_HTTP", "true"),
        ("AUDITLOG_STREAM_ALLOW_PRIVATE", "true"),
        ("AUDITLOG_STREAM_SETTLE", "1s"),
    ];
    let run = |args: &[&str]| -> Value {
        let (ok, stdout, stderr) = auditlog_with(&data, args, &env);
        assert!(ok, "{args:?}: {stderr}");
        serde_json::from_str(&stdout).unwrap_or(Value::Null)
    };
    let (url, received) = receiver();
    let stream = serde_json::json!({"webhook": {"url": url, "secret_env": "HOOK_SECRET"},
        "filter": {"exclude": {"actions": ["auditlog.*"]}}});
    let added = run(&[
        "streams",
        "add",
        "--tenant",
        "acme",
        "--json",
        &stream.to_string(),
    ]);
    let id = added["id"].as_str().expect("id").to_string();
    assert!(
        !added.to_string().contains(SECRET),
        "no secret in the answer: {added}"
    );

    // Three events, stored through the API; this server's own stream passes wait an hour.
    let key = create_key(&data, "acme");
    let mut server = start_server_with(&data, &[("AUDITLOG_STREAM_SETTLE", "1h")]);
    let started = chrono_now();
    let events = dir.path().join("events.json");
    let batch: Vec<Value> = (0..3)
        .map(|i| serde_json::json!({"id": format!("s-{i}"), "action": "doc.viewed", "actor": {"id": "u1"}}))
        .collect();
    std::fs::write(&events, serde_json::json!({ "events": batch }).to_string()).unwrap();
    let stdout = send(
        &data,
        &server,
        &key,
        &["--file", events.to_str().unwrap()],
        &env,
    );
    assert!(stdout.contains("HTTP 201"), "{stdout}");
    std::thread::sleep(Duration::from_millis(1200));

    let deliver = || run(&["streams", "deliver"])["streams"][0]["delivered"].clone();
    assert_eq!(run(&["streams", "pause", &id])["condition"], "paused");
    assert_eq!(deliver(), 0, "a paused stream sends nothing");
    assert!(received.lock().unwrap().is_empty());

    assert_eq!(run(&["streams", "resume", &id])["condition"], "active");
    assert_eq!(deliver(), 3);
    assert_eq!(*received.lock().unwrap(), ["s-0", "s-1", "s-2"]);
    assert_eq!(deliver(), 0, "each event once");

    run(&["streams", "replay", &id, "--from", &started]);
    assert_eq!(deliver(), 3);
    assert_eq!(
        received.lock().unwrap().len(),
        6,
        "the replay sent them again"
    );

    // `destinations pause` works on a stream too.
    assert_eq!(run(&["destinations", "pause", &id])["condition"], "paused");
    let status = run(&["streams", "status", &id]);
    assert_eq!(status["condition"], "paused", "{status}");
    assert_eq!(status["delivered"], 6, "{status}");

    // Bad input is named.
    let (ok, _, stderr) = auditlog_with(
        &data,
        &["streams", "replay", &id, "--from", "yesterday"],
        &env,
    );
    assert!(!ok && stderr.contains("--from"), "{stderr}");
    let (ok, _, stderr) = auditlog_with(
        &data,
        &[
            "streams",
            "add",
            "--tenant",
            "acme",
            "--json",
            r#"{"webhook": {"url": "ftp://x"}}"#,
        ],
        &env,
    );
    assert!(!ok && stderr.contains("--json /webhook"), "{stderr}");

    // Every change is in the tenant's log, made by the operator.
    let reader = create_key(&data, "acme");
    let (ok, listed, stderr) = auditlog_with(
        &data,
        &[
            "query",
            "--url",
            &server.url,
            "--key",
            &reader,
            "--action",
            "auditlog.destination.*",
            "--all",
            "--format",
            "json",
        ],
        &env,
    );
    assert!(ok, "{stderr}");
    let actions: Vec<String> = listed
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["action"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        actions,
        [
            "auditlog.destination.added",
            "auditlog.destination.paused",
            "auditlog.destination.resumed",
            "auditlog.destination.replayed",
            "auditlog.destination.paused",
        ]
    );
    let _ = server.child.kill();
    let _ = server.child.wait();
}

/// A second ago, as RFC 3339: the replay starts before the events.
fn chrono_now() -> String {
    (chrono::Utc::now() - chrono::Duration::seconds(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// On-prem: `AUDITLOG_DESTINATION` declares an object store and a stream at once; `serve`
/// registers both, the stream delivers on its own schedule, a restart with the same
/// declaration goes on, a changed one stops the start, and every bad field is named.
#[test]
fn declared_streams_are_registered_and_deliver() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = dir.path().join("exports");
    let (url, received) = receiver();
    let declaration = |format: &str| {
        serde_json::json!([
            {"id": "dst_files", "tenant": "acme",
             "target": {"kind": "directory", "path": out.to_str().unwrap(), "prefix": "audit/"}},
            {"id": "dst_hook", "tenant": "acme",
             "stream": {"webhook": {"url": url, "secret_env": "HOOK_SECRET"}, "format": format,
                        "filter": {"exclude": {"actions": ["auditlog.*"]}}}}
        ])
        .to_string()
    };
    let declared = declaration("v1");
    let env = [
        ("HOOK_SECRET", SECRET),
        ("AUDITLOG_STREAM_ALLOW_HTTP", "true"),
        ("AUDITLOG_STREAM_ALLOW_PRIVATE", "true"),
        ("AUDITLOG_STREAM_SETTLE", "1s"),
        ("AUDITLOG_STREAM_INTERVAL", "1s"),
        ("AUDITLOG_DESTINATION", declared.as_str()),
    ];
    let key = create_key(&data, "acme");
    let mut server = start_server_with(&data, &env);
    let stdout = send(
        &data,
        &server,
        &key,
        &["--id", "d-1", "--action", "doc.read"],
        &env,
    );
    assert!(stdout.contains("HTTP 201"), "{stdout}");
    for _ in 0..100 {
        if !received.lock().unwrap().is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        *received.lock().unwrap(),
        ["d-1"],
        "the declared stream delivered"
    );
    let _ = server.child.kill();
    let _ = server.child.wait();

    let (ok, listed, stderr) = auditlog_with(&data, &["destinations", "list"], &env);
    assert!(ok, "{stderr}");
    assert!(
        listed.contains("dst_files") && listed.contains("dst_hook"),
        "{listed}"
    );
    assert!(!listed.contains(SECRET), "no secret listed: {listed}");

    // The same declaration again: the start goes on.
    let mut again = start_server_with(&data, &env);
    let _ = again.child.kill();
    let _ = again.child.wait();
    // A changed stream under the same id stops the start rather than repoint it.
    let changed = declaration("ocsf");
    let mut env_changed = env;
    env_changed[5] = ("AUDITLOG_DESTINATION", changed.as_str());
    let serve =
        |env: &[(&str, &str)]| auditlog_with(&data, &["serve", "--listen", "127.0.0.1:0"], env);
    let (ok, _, stderr) = serve(&env_changed);
    assert!(
        !ok && stderr.contains("destination dst_hook is stored with another tenant or target"),
        "{stderr}"
    );

    // Every bad field, by pointer into the array.
    let bad = serde_json::json!([
        {"tenant": "acme", "stream": {"webhook": {"url": "ftp://x", "secret_env": "HOOK_SECRET"}}},
        {"tenant": "acme", "stream": {"webhook": {"url": url, "secret_env": "HOOK_SECRET"}},
         "target": {"kind": "directory", "path": "/tmp/x", "prefix": "a/"}},
        {"tenant": "acme"},
        {"id": "twice", "tenant": "acme", "target": {"kind": "directory", "path": "/tmp/x", "prefix": "a/"}},
        {"id": "twice", "tenant": "acme", "target": {"kind": "directory", "path": "/tmp/y", "prefix": "b/"}}
    ])
    .to_string();
    let mut env_bad = env;
    env_bad[5] = ("AUDITLOG_DESTINATION", bad.as_str());
    let (ok, _, stderr) = serve(&env_bad);
    assert!(!ok, "{stderr}");
    for named in [
        "AUDITLOG_DESTINATION:",
        "/0/stream/webhook/url:",
        "/1/stream: declare `target` (an object store) or `stream`, not both",
        "/2/target: missing",
        "/4/id: `twice` is declared twice (also at /3)",
    ] {
        assert!(stderr.contains(named), "{named} in {stderr}");
    }
}
