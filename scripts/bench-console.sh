#!/usr/bin/env bash
# Console figures on SQLite, release build: the time to render a page of 100 events (median
# and p90 over 300 requests, measured by the client on loopback, so it includes HTTP), the API's
# own page of 100 events beside it (the same read, as JSON), and the CSV and NDJSON download
# rates in events/s over 20,000 events. Usage: scripts/bench-console.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --locked --release -p auditlog-cli >/dev/null
bin="$PWD/target/release/auditlog"
data="$(mktemp -d)"
trap 'kill "$server" 2>/dev/null || true; rm -rf "$data"' EXIT
export AUDITLOG_DATA_DIR="$data" AUDITLOG_LOG=warn
key="$("$bin" keys create --tenant bench --scopes write,read --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$bin" serve --listen "127.0.0.1:$port" >/dev/null 2>&1 &
server=$!
link="$("$bin" console --tenant bench --url "http://127.0.0.1:$port" 2>/dev/null)"
python3 - "http://127.0.0.1:$port" "$key" "$link" <<'PY'
import http.client, json, statistics, sys, time, urllib.parse
base, key, link = sys.argv[1], sys.argv[2], sys.argv[3]
host = urllib.parse.urlparse(base).netloc
for _ in range(100):
    try:
        http.client.HTTPConnection(host).request("GET", "/v1/health"); break
    except OSError:
        time.sleep(0.1)
conn = http.client.HTTPConnection(host)
def call(method, path, body=None, headers=None):
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse(); data = r.read(); return r, data
auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
for batch in range(40):
    events = [{"action": "doc.viewed", "actor": {"id": f"u_{i % 50}", "name": "Ada <ada>", "email": "ada@example.com"},
               "targets": [{"id": f"doc-{i}", "name": "Quarterly report"}], "outcome": "success",
               "source": {"service": "docs"}, "context": {"ip_address": "203.0.113.9"},
               "metadata": {"size": i, "tags": ["a", "b"]}} for i in range(500)]
    r, _ = call("POST", "/v1/events", json.dumps({"events": events}), auth)
    assert r.status == 201, r.status
r, _ = call("GET", urllib.parse.urlparse(link).path + "?" + urllib.parse.urlparse(link).query)
cookie = r.getheader("Set-Cookie").split(";")[0]
def timed(path, headers, n=300):
    times = []
    for _ in range(n):
        start = time.perf_counter(); r, data = call("GET", path, headers=headers)
        times.append((time.perf_counter() - start) * 1000); assert r.status == 200, (r.status, data[:200])
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.9)], len(data)
for name, path, headers in [("console page of 100 events", "/console/events?limit=100", {"Cookie": cookie}),
                            ("API page of 100 events    ", "/v1/events?limit=100&order=desc", auth)]:
    median, p90, size = timed(path, headers)
    print(f"{name}: median {median:.2f} ms, p90 {p90:.2f} ms ({size} bytes)")
for fmt in ["csv", "ndjson"]:
    start = time.perf_counter(); r, data = call("GET", f"/console/download?format={fmt}", headers={"Cookie": cookie})
    seconds = time.perf_counter() - start
    lines = data.count(b"\n") - (1 if fmt == "csv" else 0)
    print(f"{fmt} download: {lines} events in {seconds:.2f} s = {lines / seconds:,.0f} events/s ({len(data) / 1e6:.1f} MB)")
PY
