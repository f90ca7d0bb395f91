#!/usr/bin/env bash
# DynamoDB request units per event, measured with ReturnConsumedCapacity on DynamoDB Local, for
# 0.5, 1 and 4 KiB events ingested 1, 25 and 100 per request and exported once; then the cost
# per million events at published us-east-1 prices (docs/cost.md quotes it).
# Usage: scripts/bench-cost.sh [events per batch size, default 300]
# BENCH_PROFILE=release for the Lambda durations docs/cost.md uses (the units do not change).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${AWS_ENDPOINT_URL_DYNAMODB:-}" ]; then
  source scripts/dynamodb-local.sh
fi
cargo run --locked --profile "${BENCH_PROFILE:-dev}" -p auditlog-tests --example dynamodb_cost -- "$@"
