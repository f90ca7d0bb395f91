//! Real processes the edge tests talk to over HTTP: `auditlog serve` (the workspace's binary, on
//! a fresh data directory, its JSON request log kept), and `jco serve` (Bytecode Alliance's
//! `wasi:http` host for Node) running a component.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use serde_json::Value;

/// The workspace's `auditlog` binary, built by the same `cargo test` beside the test binaries.
pub fn auditlog_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .and_then(Path::parent)
        .unwrap()
        .join(format!("auditlog{}", std::env::consts::EXE_SUFFIX))
}

/// Keeps every line a child writes on `stream`, and sends each to `tx` too.
fn keep_lines(
    stream: impl Read + Send + 'static,
    tx: mpsc::Sender<String>,
) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let kept = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            kept.lock().unwrap().push(line.clone());
            let _ = tx.send(line);
        }
    });
    lines
}

/// `auditlog serve` on 127.0.0.1, a free port, SQLite in a fresh directory.
pub struct Served {
    child: Child,
    pub url: String,
    data_dir: tempfile::TempDir,
    log: Arc<Mutex<Vec<String>>>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    pub fn start() -> Served {
        let data_dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(auditlog_binary())
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("AUDITLOG_DATA_DIR", data_dir.path())
            .env("AUDITLOG_LOG_FORMAT", "json")
            .env_remove("AUDITLOG_KEY")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn auditlog serve");
        let (tx, rx) = mpsc::channel();
        let log = keep_lines(child.stderr.take().unwrap(), tx);
        let url = loop {
            let line = rx
                .recv_timeout(Duration::from_secs(30))
                .expect("auditlog serve printed no address");
            let entry: Value = serde_json::from_str(&line).unwrap_or_default();
            if let Some(address) = entry["address"].as_str() {
                break format!("http://{address}");
            }
        };
        Served {
            child,
            url,
            data_dir,
            log,
        }
    }

    /// A new key of `tenant`, made by the CLI on the server's data directory.
    pub fn key(&self, tenant: &str, scopes: &str) -> String {
        let out = Command::new(auditlog_binary())
            .args([
                "keys", "create", "--tenant", tenant, "--scopes", scopes, "--json",
            ])
            .env("AUDITLOG_DATA_DIR", self.data_dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let made: Value = serde_json::from_slice(&out.stdout).unwrap();
        made["key"].as_str().unwrap().to_string()
    }

    /// The request log's entries (one per request answered) so far, as JSON.
    pub fn requests(&self) -> Vec<Value> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|e| e["message"] == "request")
            .collect()
    }
}

/// `jco serve` running a `wasi:http` component on 127.0.0.1, a free port.
pub struct JcoServe {
    child: Child,
    pub url: String,
    output: Arc<Mutex<Vec<String>>>,
}

impl Drop for JcoServe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `jco` command: `AUDITLOG_TEST_JCO` (scripts/jco.sh sets it), else `jco` on the PATH.
pub fn jco_command() -> String {
    std::env::var("AUDITLOG_TEST_JCO").unwrap_or_else(|_| "jco".into())
}

impl JcoServe {
    /// Serves `component` with exactly the environment `env` adds to this process's.
    pub fn start(component: &Path, env: &[(&str, &str)]) -> JcoServe {
        let port = free_port();
        let mut child = Command::new(jco_command())
            .arg("serve")
            .arg(component)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("run `{}` (scripts/jco.sh installs it): {e}", jco_command())
            });
        let (tx, rx) = mpsc::channel();
        let output = keep_lines(child.stdout.take().unwrap(), tx.clone());
        let errors = keep_lines(child.stderr.take().unwrap(), tx);
        loop {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(line) if line.contains("listening") => break,
                Ok(_) => {}
                Err(_) => panic!(
                    "jco serve did not start: {:?}",
                    errors.lock().unwrap().clone()
                ),
            }
        }
        JcoServe {
            child,
            url: format!("http://127.0.0.1:{port}"),
            output,
        }
    }

    /// What the host printed (its own messages, and the component's stdout and stderr).
    pub fn printed(&self) -> Vec<String> {
        self.output.lock().unwrap().clone()
    }
}

/// A port free now on 127.0.0.1 (the host binds it a moment later).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
