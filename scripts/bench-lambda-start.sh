#!/usr/bin/env bash
# Cold start of the ingest function, measured: from process start to its first answered request
# (a POST /v1/events of one event with a real key, stored in DynamoDB Local), over 20 starts,
# median, min and max. A small Lambda runtime API (Python, the documented
# /2018-06-01/runtime/invocation/* paths) hands each process one API Gateway event and times
# the response it posts back; the process is then stopped, as Lambda freezes and later discards
# an instance. Release build of this machine's architecture (the arm64 build is the same code).
# Usage: scripts/bench-lambda-start.sh [starts, default 20]
set -euo pipefail
cd "$(dirname "$0")/.."
starts="${1:-20}"
if [ -z "${AWS_ENDPOINT_URL_DYNAMODB:-}" ]; then
  source scripts/dynamodb-local.sh
fi
cargo build --locked --release -q -p auditlog-ingest -p auditlog-cli
export AUDITLOG_STORE=dynamodb
export AUDITLOG_EVENTS_TABLE="bench-start-events-$$" AUDITLOG_KEYS_TABLE="bench-start-keys-$$"
export AUDITLOG_EXPORTS_TABLE="bench-start-exports-$$"
target/release/auditlog tables create >/dev/null
key="$(target/release/auditlog keys create --tenant bench --scopes write --json |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])')"
python3 - target/release/auditlog-ingest "$key" "$starts" <<'PY'
import json, os, statistics, subprocess, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

binary, key, starts = sys.argv[1], sys.argv[2], int(sys.argv[3])
template = json.load(open("events/ingest-single.json"))
answered = {}

class RuntimeApi(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):  # /2018-06-01/runtime/invocation/next
        # One invocation per start (each start has a server of its own); a process asking for
        # another waits, as a frozen one would, until it is stopped.
        if self.server.handed:
            time.sleep(60)
            return
        self.server.handed = True
        n = self.server.current
        event = json.loads(json.dumps(template))
        event["headers"]["authorization"] = f"Bearer {key}"
        body = json.loads(event["body"])
        body["id"] = f"start-{n}"
        event["body"] = json.dumps(body)
        event["headers"]["content-length"] = str(len(event["body"]))
        payload = json.dumps(event).encode()
        self.send_response(200)
        self.send_header("Lambda-Runtime-Aws-Request-Id", f"req-{n}")
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn",
                         "arn:aws:lambda:us-east-1:123456789012:function:ingest")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_POST(self):  # .../invocation/{id}/response or /error, /runtime/init/error
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length)
        answered[self.path] = (time.perf_counter(), body)
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

times = []
for n in range(starts):
    server = ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
    server.daemon_threads = True
    server.handed, server.current = False, n
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(os.environ, AWS_LAMBDA_FUNCTION_NAME="ingest", AWS_LAMBDA_FUNCTION_MEMORY_SIZE="256",
               AWS_LAMBDA_FUNCTION_VERSION="1",
               AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_address[1]}")
    path = f"/2018-06-01/runtime/invocation/req-{n}/response"
    start = time.perf_counter()
    p = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while path not in answered:
        if p.poll() is not None or time.perf_counter() - start > 30:
            sys.exit(f"start {n}: no answer (exit {p.returncode})")
        time.sleep(0.0005)
    at, body = answered[path]
    status = json.loads(body).get("statusCode")
    if status != 201:
        sys.exit(f"start {n}: answered {status}: {body[:300]!r}")
    times.append((at - start) * 1000)
    p.kill()
    p.wait()
    server.shutdown()
print(f"ingest function, process start to first answered POST /v1/events (201), {len(times)} starts: "
      f"median {statistics.median(times):.1f} ms, min {min(times):.1f} ms, max {max(times):.1f} ms "
      f"({os.path.getsize(binary)} B binary)")
PY
