//! Real processes the edge tests talk to over HTTP: `auditlog serve` (the workspace's binary, on
//! a fresh data directory, its JSON request log kept), and a `wasi:http` host running a
//! component: `jco serve` (Bytecode Alliance's host for Node) or `wasmtime serve`.

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

/// Keeps every line a child writes on `stream` in `lines`, and sends each to `tx` too.
fn keep_lines(
    stream: impl Read + Send + 'static,
    tx: mpsc::Sender<String>,
    lines: &Arc<Mutex<Vec<String>>>,
) {
    let kept = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            kept.lock().unwrap().push(line.clone());
            let _ = tx.send(line);
        }
    });
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
        let log = Arc::new(Mutex::new(Vec::new()));
        keep_lines(child.stderr.take().unwrap(), tx, &log);
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

    /// The request log once `done` holds of it, or as it stands after 10 s. The server writes
    /// an entry as it answers and a thread reads its stderr, so an entry can land a moment
    /// after the client has its answer: a check reads the log through this, not at once.
    pub fn requests_once(&self, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let seen = self.requests();
            if done(&seen) || std::time::Instant::now() >= deadline {
                return seen;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A `wasi:http` host that no one here wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    /// `jco serve`: Bytecode Alliance's host for Node (npm `@bytecodealliance/jco`).
    Jco,
    /// `wasmtime serve`: the reference runtime's host (crates.io `wasmtime-cli`).
    Wasmtime,
}

impl Host {
    /// The command: `AUDITLOG_TEST_JCO` / `AUDITLOG_TEST_WASMTIME` (scripts/jco.sh and
    /// scripts/wasmtime.sh set them), else `jco` / `wasmtime` on the PATH.
    pub fn command(self) -> String {
        let (variable, default) = match self {
            Host::Jco => ("AUDITLOG_TEST_JCO", "jco"),
            Host::Wasmtime => ("AUDITLOG_TEST_WASMTIME", "wasmtime"),
        };
        std::env::var(variable).unwrap_or_else(|_| default.into())
    }

    fn spawn(self, component: &Path, port: u16, env: &[(&str, &str)]) -> std::io::Result<Child> {
        let mut command = Command::new(self.command());
        match self {
            Host::Jco => {
                command
                    .arg("serve")
                    .arg(component)
                    .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                    .envs(env.iter().copied());
            }
            Host::Wasmtime => {
                // Only what `--env` names reaches the component; `-Scli` gives it
                // wasi:cli/environment, which `serve` leaves out by default. The pooling
                // allocator is left out of the build (scripts/wasmtime.sh), so it is off here.
                command
                    .args(["serve", "-Scli", "-Opooling-allocator=n"])
                    .args(["--addr", &format!("127.0.0.1:{port}")])
                    .args(env.iter().map(|(k, v)| format!("--env={k}={v}")))
                    .arg(component);
            }
        }
        command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
    }
}

/// A host serving a `wasi:http` component on 127.0.0.1, a free port.
pub struct EdgeHost {
    child: Child,
    pub url: String,
    output: Arc<Mutex<Vec<String>>>,
}

impl Drop for EdgeHost {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl EdgeHost {
    /// Serves `component` with the settings `env`.
    pub fn start(host: Host, component: &Path, env: &[(&str, &str)]) -> EdgeHost {
        let port = free_port();
        let mut child = host.spawn(component, port, env).unwrap_or_else(|e| {
            panic!(
                "run `{}` (scripts/jco.sh and scripts/wasmtime.sh install the hosts): {e}",
                host.command()
            )
        });
        let (tx, rx) = mpsc::channel();
        let output = Arc::new(Mutex::new(Vec::new()));
        keep_lines(child.stdout.take().unwrap(), tx.clone(), &output);
        keep_lines(child.stderr.take().unwrap(), tx, &output);
        loop {
            match rx.recv_timeout(Duration::from_secs(60)) {
                // jco: "Server listening @ ..."; wasmtime: "Serving HTTP on http://...".
                Ok(line) if line.contains("listening") || line.contains("Serving HTTP") => break,
                Ok(_) => {}
                Err(_) => panic!(
                    "{host:?} did not start: {:?}",
                    output.lock().unwrap().clone()
                ),
            }
        }
        EdgeHost {
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
