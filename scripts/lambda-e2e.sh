#!/usr/bin/env bash
# End-to-end test of the ingest function through the Lambda runtime API, with cargo-lambda:
# `cargo lambda watch` (a local Lambda emulator, no Docker) runs auditlog-ingest against DynamoDB
# Local, and tests/tests/lambda_e2e.rs sends each file of events/ with `cargo lambda invoke`.
# Needs DynamoDB Local (AWS_ENDPOINT_URL_DYNAMODB; scripts/test starts it). Installs cargo-lambda
# into .cache/lambda-venv on first use (pip; cargo-lambda runs zig from that venv).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${AWS_ENDPOINT_URL_DYNAMODB:?start DynamoDB Local first (scripts/test does)}"

source scripts/lambda-tools.sh

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
run_id="e2e-$(date +%s)-$$"
export AUDITLOG_EVENTS_TABLE="auditlog-events-${run_id}"
export AUDITLOG_KEYS_TABLE="auditlog-keys-${run_id}"
export AUDITLOG_LAMBDA_INVOKE_PORT="$port"

# Build first, so that the watcher's own build is a no-op and its start is quick. The function
# reads its tables at start-up, so they exist before the watcher starts it.
cargo build --locked -p auditlog-ingest -p auditlog-cli
target/debug/auditlog tables create
log=".cache/lambda-watch.log"
cargo lambda watch --ignore-changes --quiet --invoke-address 127.0.0.1 --invoke-port "$port" \
  --package auditlog-ingest --bin auditlog-ingest \
  --env-var "AUDITLOG_EVENTS_TABLE=${AUDITLOG_EVENTS_TABLE},AUDITLOG_KEYS_TABLE=${AUDITLOG_KEYS_TABLE}" \
  --env-var "AWS_ENDPOINT_URL_DYNAMODB=${AWS_ENDPOINT_URL_DYNAMODB},AWS_REGION=${AWS_REGION}" \
  --env-var "AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID},AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY}" \
  >"$log" 2>&1 &
watch_pid=$!
trap 'kill "$watch_pid" 2>/dev/null || true; wait "$watch_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 240); do
  if curl -s -o /dev/null "http://127.0.0.1:${port}/"; then break; fi
  if ! kill -0 "$watch_pid" 2>/dev/null; then
    echo "cargo lambda watch exited; its log:" >&2; cat "$log" >&2; exit 1
  fi
  sleep 0.5
done
echo "cargo lambda watch (pid $watch_pid) on 127.0.0.1:${port}"
if ! cargo test --locked -p auditlog-tests --test lambda_e2e -- --ignored; then
  echo "the function's log (cargo lambda watch):" >&2; tail -n 50 "$log" >&2; exit 1
fi
echo "the function logged JSON lines with the invocation id, e.g.:"
grep -m1 '"path":"/v1/events".*"requestId"' "$log" || { echo "no JSON log line carried the Lambda requestId" >&2; exit 1; }
