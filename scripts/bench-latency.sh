#!/usr/bin/env bash
# Accepted-to-delivered latency of the export, p50 and p99, into a directory and into S3 (moto,
# IAM enforced) at once: `auditlog serve` (release) with a 1-minute window and a 10-second grace,
# its export pass at each window's close (the export function's schedule does the same in AWS).
# One event every 100 ms for 150 s, each timed from its 201 to the arrival of the object that
# holds it: the file's modification time, or the S3 object's LastModified (whole seconds, so
# S3 figures round up by up to a second). One clock: everything runs on this machine.
# Usage: scripts/bench-latency.sh [seconds of traffic, default 150]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${AWS_ENDPOINT_URL_S3:-}" ]; then
  source scripts/moto.sh >/dev/null
fi
cargo build --locked --release -q -p auditlog-cli
python3 - "$PWD/target/release/auditlog" "${1:-150}" <<'PY'
import gzip, http.client, json, os, socket, statistics, subprocess, sys, tempfile, time
import boto3

binary, seconds, rate = sys.argv[1], int(sys.argv[2]), 10
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL_S3"], region_name="us-east-1")
bucket = f"latency-{os.getpid()}"
s3.create_bucket(Bucket=bucket)
data, out = tempfile.mkdtemp(), tempfile.mkdtemp()
env = dict(os.environ, AUDITLOG_DATA_DIR=data, AUDITLOG_LOG="warn",
           AUDITLOG_EXPORT_WINDOW="1m", AUDITLOG_EXPORT_GRACE="10s")
run = lambda *args: subprocess.check_output([binary, *args], env=env)
key = json.loads(run("keys", "create", "--tenant", "bench", "--scopes", "write", "--json"))["key"]
run("destinations", "add", "--tenant", "bench", "--dir", out)
run("destinations", "add", "--tenant", "bench", "--bucket", bucket, "--region", "us-east-1")
sock = socket.socket(); sock.bind(("127.0.0.1", 0)); port = sock.getsockname()[1]; sock.close()
server = subprocess.Popen([binary, "serve", "--listen", f"127.0.0.1:{port}"], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

def objects_dir():
    for root, _, files in os.walk(out):
        for name in files:
            if name.endswith(".ndjson.gz"):
                path = os.path.join(root, name)
                yield os.stat(path).st_mtime, gzip.open(path).read()

def objects_s3():
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for o in page.get("Contents", []):
            if o["Key"].endswith(".ndjson.gz"):
                body = s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
                yield o["LastModified"].timestamp(), gzip.decompress(body)

def delivered(objects):
    at = {}
    for when, text in objects:
        for line in text.splitlines():
            ident = json.loads(line)["id"]
            if ident.startswith("lat-"):
                at[ident] = when
    return at

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
        body = json.dumps({"id": ident, "action": "doc.viewed", "actor": {"id": "u1"}})
        conn.request("POST", "/v1/events", body,
                     {"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
        r = conn.getresponse(); r.read()
        assert r.status == 201, r.status
        accepted[ident] = time.time()
        time.sleep(1 / rate)
    print("| destination | events | p50 | p99 | max |")
    print("| --- | --- | --- | --- | --- |")
    for label, objects in [("directory", objects_dir), ("S3 (moto)", objects_s3)]:
        deadline = time.time() + 150
        while True:
            at = delivered(objects())
            if len(at) >= len(accepted) or time.time() > deadline:
                break
            time.sleep(2)
        missing = [i for i in accepted if i not in at]
        assert not missing, f"{label}: {len(missing)} events never delivered"
        waits = sorted(at[i] - accepted[i] for i in accepted)
        p99 = waits[min(len(waits) - 1, int(len(waits) * 0.99))]
        print(f"| {label} | {len(waits)} | {statistics.median(waits):.1f} s | {p99:.1f} s | {waits[-1]:.1f} s |")
finally:
    server.terminate(); server.wait()
PY
