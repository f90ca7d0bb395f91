//! What the CLI's end-to-end tests share: running the `auditlog` binary, and a real `serve` on
//! a fresh data directory and a free port.

#![allow(dead_code)] // each test binary uses its own part of it
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_auditlog");

pub fn auditlog(data_dir: &Path, args: &[&str]) -> (bool, String, String) {
    auditlog_with(data_dir, args, &[])
}

/// `auditlog` with extra environment variables (a store other than SQLite, say).
pub fn auditlog_with(
    data_dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> (bool, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .envs(env.iter().copied())
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

/// A new write-and-read key of `tenant`, made by `keys create --json` on `data_dir`.
pub fn create_key(data_dir: &Path, tenant: &str) -> String {
    let (ok, stdout, stderr) =
        auditlog(data_dir, &["keys", "create", "--tenant", tenant, "--json"]);
    assert!(ok, "{stdout}{stderr}");
    serde_json::from_str::<Value>(&stdout).expect("json")["key"]
        .as_str()
        .expect("key")
        .to_string()
}

pub struct Server {
    pub child: Child,
    pub url: String,
    /// The log lines before the one with the address.
    pub started: Vec<String>,
    pub log: mpsc::Receiver<String>,
}

pub fn start_server(data_dir: &Path) -> Server {
    start_server_with(data_dir, &[])
}

pub fn start_server_with(data_dir: &Path, env: &[(&str, &str)]) -> Server {
    start_server_without(data_dir, env, &[])
}

/// `serve` with extra variables and without the `removed` ones (`AWS_REGION`, say).
pub fn start_server_without(data_dir: &Path, env: &[(&str, &str)], removed: &[&str]) -> Server {
    let mut command = Command::new(BIN);
    for name in removed {
        command.env_remove(name);
    }
    let mut child = command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .envs(env.iter().copied())
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
    let mut started = Vec::new();
    let url = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("serve printed no address");
        let entry: Value = serde_json::from_str(&line).expect("log lines are JSON");
        if let Some(address) = entry["address"].as_str() {
            break format!("http://{address}");
        }
        started.push(line);
    };
    Server {
        child,
        url,
        started,
        log: rx,
    }
}

/// `auditlog send` to `server` with `key` and further arguments (`--id`, `--file`, ...), with
/// extra environment variables; asserts that it succeeded and gives what it printed.
pub fn send(
    data_dir: &Path,
    server: &Server,
    key: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> String {
    let mut all = vec!["send", "--url", server.url.as_str(), "--key", key];
    all.extend_from_slice(args);
    let (ok, stdout, stderr) = auditlog_with(data_dir, &all, env);
    assert!(ok, "send {args:?}: {stdout}{stderr}");
    stdout
}

/// `auditlog streams add` of `stream` (the body of `POST /v1/streams`) for `tenant`; gives the
/// new stream's id.
pub fn add_stream(data_dir: &Path, tenant: &str, stream: &Value, env: &[(&str, &str)]) -> String {
    let body = stream.to_string();
    let (ok, stdout, stderr) = auditlog_with(
        data_dir,
        &["streams", "add", "--tenant", tenant, "--json", &body],
        env,
    );
    assert!(ok, "streams add: {stderr}");
    serde_json::from_str::<Value>(&stdout).expect("json")["id"]
        .as_str()
        .expect("id")
        .to_string()
}
