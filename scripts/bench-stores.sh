#!/usr/bin/env bash
# Batched ingest throughput on SQLite and on DynamoDB Local, reported as a ratio (an emulator's
# absolute rate means little). Usage: scripts/bench-stores.sh [events] [batch] [concurrency]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${AWS_ENDPOINT_URL_DYNAMODB:-}" ]; then
  source scripts/dynamodb-local.sh
fi
# Debug profile by default: dependencies are built at opt-level 2 (see Cargo.toml) and the ratio is
# dominated by store round trips. BENCH_PROFILE=release for a fully optimised build.
cargo run --locked --profile "${BENCH_PROFILE:-dev}" -p auditlog-tests --example store_throughput -- "$@"
