#!/usr/bin/env bash
# Time from process start to "ingest function ready" (settings read, SDK client built, cursor
# secret read from the events table) for the ingest function, against DynamoDB Local, over 10
# starts. The Lambda runtime API is pointed at a closed port, so each process exits right after
# init. Usage: scripts/bench-lambda-start.sh [path to the auditlog-ingest binary]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${AWS_ENDPOINT_URL_DYNAMODB:-}" ]; then
  source scripts/dynamodb-local.sh
fi
binary="${1:-target/debug/auditlog-ingest}"
[ -x "$binary" ] || cargo build --locked -p auditlog-ingest -p auditlog-cli
export AUDITLOG_EVENTS_TABLE="bench-start-events-$$" AUDITLOG_KEYS_TABLE="bench-start-keys-$$"
target/debug/auditlog tables create >/dev/null
python3 - "$binary" <<'PY'
import os, subprocess, sys, time, statistics
binary = sys.argv[1]
env = dict(os.environ, AWS_LAMBDA_FUNCTION_NAME="ingest", AWS_LAMBDA_FUNCTION_MEMORY_SIZE="256",
           AWS_LAMBDA_FUNCTION_VERSION="1", AWS_LAMBDA_RUNTIME_API="127.0.0.1:9")
times = []
for _ in range(10):
    start = time.perf_counter()
    p = subprocess.Popen([binary], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in p.stdout:
        if "ingest function ready" in line:
            times.append((time.perf_counter() - start) * 1000)
            break
    p.kill(); p.wait()
print(f"start to ready over {len(times)} starts: median {statistics.median(times):.1f} ms, "
      f"min {min(times):.1f} ms, max {max(times):.1f} ms ({binary})")
PY
