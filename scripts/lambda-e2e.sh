#!/usr/bin/env bash
# End-to-end test of both functions through the Lambda runtime API, with cargo-lambda:
# `cargo lambda watch --only-lambda-apis` (a local Lambda runtime API emulator, no Docker) serves
# the runtime API; this script starts the two function binaries against it (auditlog-ingest on
# DynamoDB Local, auditlog-export on DynamoDB Local and moto's S3), and tests/tests/lambda_e2e.rs
# sends the files of events/ with `cargo lambda invoke`. Starting the binaries here, rather than
# letting the watcher build them, reuses the workspace build that `cargo test --workspace` made
# (a per-package build would resolve features differently and rebuild the AWS SDK crates).
# Needs DynamoDB Local and moto (scripts/test starts both). Installs cargo-lambda into
# .cache/lambda-venv on first use (pip; cargo-lambda runs zig from that venv).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${AWS_ENDPOINT_URL_DYNAMODB:?start DynamoDB Local first (scripts/test does)}"
: "${AWS_ENDPOINT_URL_S3:?start moto first (scripts/test does)}"

source scripts/lambda-tools.sh

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
run_id="e2e-$(date +%s)-$$"
export AUDITLOG_EVENTS_TABLE="auditlog-events-${run_id}"
export AUDITLOG_KEYS_TABLE="auditlog-keys-${run_id}"
export AUDITLOG_EXPORTS_TABLE="auditlog-exports-${run_id}"
export AUDITLOG_LAMBDA_INVOKE_PORT="$port"

# Exactly the build `cargo test --workspace` made (it builds both function binaries for their
# start-up tests): after it, nothing is compiled again.
cargo test --workspace --locked --no-run
# The functions read their tables at start-up, so the tables exist first.
target/debug/auditlog tables create
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true' EXIT
watch_log=".cache/lambda-watch.log"
cargo lambda watch --only-lambda-apis --invoke-address 127.0.0.1 --invoke-port "$port" >"$watch_log" 2>&1 &
pids+=($!)
for _ in $(seq 1 120); do
  # A TCP connect, not an HTTP request: the emulator holds any request until a function takes it.
  if (exec 3<>"/dev/tcp/127.0.0.1/${port}") 2>/dev/null; then break; fi
  if ! kill -0 "${pids[0]}" 2>/dev/null; then
    echo "cargo lambda watch exited; its log:" >&2; cat "$watch_log" >&2; exit 1
  fi
  sleep 0.5
done
echo "cargo lambda watch (pid ${pids[0]}) serves the Lambda runtime API on 127.0.0.1:${port}"

# One function process per name, as Lambda would run it (the variables the watcher asks for).
start_function() {
  local name="$1"
  AWS_LAMBDA_FUNCTION_NAME="$name" AWS_LAMBDA_FUNCTION_VERSION=1 AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256 \
    AWS_LAMBDA_RUNTIME_API="http://127.0.0.1:${port}/.rt/${name}" \
    "target/debug/$name" >".cache/lambda-${name}.log" 2>&1 &
  pids+=($!)
}
start_function auditlog-ingest
# The stream test's receiver runs in the test process, on loopback and plain http: the operator's
# settings that allow it (the template keeps both off).
AUDITLOG_STREAM_ALLOW_HTTP=true AUDITLOG_STREAM_ALLOW_PRIVATE=true AUDITLOG_STREAM_SETTLE=1s \
  start_function auditlog-export

if ! cargo test --workspace --locked --test lambda_e2e -- --ignored; then
  for name in auditlog-ingest auditlog-export; do
    echo "the log of $name:" >&2; tail -n 30 ".cache/lambda-${name}.log" >&2
  done
  exit 1
fi
echo "the functions logged JSON lines with the invocation id, e.g.:"
grep -m1 '"path":"/v1/events".*"requestId"' .cache/lambda-auditlog-ingest.log \
  || { echo "no ingest log line carried the Lambda requestId" >&2; exit 1; }
grep -m1 '"export pass done".*"requestId"' .cache/lambda-auditlog-export.log \
  || { echo "no export log line carried the Lambda requestId" >&2; exit 1; }
echo "and the backlog-age metric (CloudWatch Embedded Metric Format):"
grep -m1 '"OldestUnexportedAgeSeconds"' .cache/lambda-auditlog-export.log \
  || { echo "the export function published no backlog-age metric" >&2; exit 1; }
