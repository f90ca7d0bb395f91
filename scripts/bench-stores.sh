#!/usr/bin/env bash
# Batched ingest throughput on SQLite and on DynamoDB Local, reported as a ratio (an emulator's
# absolute rate means little). Usage: scripts/bench-stores.sh [events] [batch] [concurrency]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${AWS_ENDPOINT_URL_DYNAMODB:-}" ]; then
  source scripts/dynamodb-local.sh
fi
cargo run --locked --release -p auditlog-tests --example store_throughput -- "$@"
