#!/usr/bin/env bash
# Stream figures, release build, side by side in one run:
# 1. events/s delivered from the SQLite store to the local webhook receiver and to the `_bulk`
#    receiver (tests/examples/stream_throughput.rs), default batch sizes;
# 2. accepted-to-arrival latency (p50, p99) at a webhook receiver, with `auditlog serve` on its
#    default schedule (AUDITLOG_STREAM_SETTLE=30s, AUDITLOG_STREAM_INTERVAL=5s) and on the
#    shortest (settle 1s, interval 250ms): one event every 100 ms for 20 s, each timed from its
#    201 to its arrival, on one clock.
# Usage: scripts/bench-streams.sh [events for 1, default 20000]
set -euo pipefail
cd "$(dirname "$0")/.."
echo "## Delivery throughput"
cargo run --locked --release -q -p auditlog-tests --example stream_throughput -- "${1:-20000}"
cargo build --locked --release -p auditlog-cli >/dev/null
echo
echo "## Accepted to arrival"
python3 - "$PWD/target/release/auditlog" <<'PY'
import base64, http.client, http.server, json, os, secrets, socket, statistics, subprocess, sys
import tempfile, threading, time

binary = sys.argv[1]
arrivals = {}

class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        now = time.time()
        for record in json.loads(body):
            arrivals.setdefault(record["id"], now)
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *args):
        pass

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close(); return port

def run(label, settle, interval, seconds=20, rate=10):
    arrivals.clear()
    hook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    data = tempfile.mkdtemp()
    secret_file = os.path.join(data, "hook-secret")
    with open(secret_file, "w") as f:
        f.write("whsec_" + base64.b64encode(secrets.token_bytes(32)).decode())
    env = dict(os.environ, AUDITLOG_DATA_DIR=data, AUDITLOG_LOG="warn",
               AUDITLOG_STREAM_ALLOW_HTTP="true", AUDITLOG_STREAM_ALLOW_PRIVATE="true",
               AUDITLOG_STREAM_SETTLE=settle, AUDITLOG_STREAM_INTERVAL=interval)
    key = json.loads(subprocess.check_output([binary, "keys", "create", "--tenant", "bench", "--scopes", "write", "--json"], env=env))["key"]
    stream = {"webhook": {"url": f"http://127.0.0.1:{hook.server_port}/hook", "secret_file": secret_file},
              "filter": {"exclude": {"actions": ["auditlog.*"]}}}
    subprocess.check_output([binary, "streams", "add", "--tenant", "bench", "--json", json.dumps(stream)], env=env)
    port = free_port()
    server = subprocess.Popen([binary, "serve", "--listen", f"127.0.0.1:{port}"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                http.client.HTTPConnection("127.0.0.1", port).request("GET", "/v1/health"); break
            except OSError:
                time.sleep(0.1)
        conn = http.client.HTTPConnection("127.0.0.1", port)
        accepted = {}
        for i in range(seconds * rate):
            ident = f"lat-{i:05d}"
            body = json.dumps({"events": [{"id": ident, "action": "doc.viewed", "actor": {"id": "u1"}}]})
            conn.request("POST", "/v1/events", body, {"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
            r = conn.getresponse(); r.read()
            assert r.status == 201, r.status
            accepted[ident] = time.time()
            time.sleep(1 / rate)
        deadline = time.time() + 120
        while len(arrivals) < len(accepted) and time.time() < deadline:
            time.sleep(0.1)
        missing = [i for i in accepted if i not in arrivals]
        assert not missing, f"{len(missing)} events never arrived"
        waits = sorted(arrivals[i] - accepted[i] for i in accepted)
        p50 = statistics.median(waits)
        p99 = waits[min(len(waits) - 1, int(len(waits) * 0.99))]
        print(f"| {label} | settle {settle}, interval {interval} | {len(waits)} | {p50:.2f} s | {p99:.2f} s |")
    finally:
        server.terminate(); server.wait(); hook.shutdown()

print("| schedule | settings | events | p50 | p99 |")
print("| --- | --- | --- | --- | --- |")
run("default", "30s", "5s")
run("shortest", "1s", "250ms")
PY
