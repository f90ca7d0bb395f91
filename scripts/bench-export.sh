#!/usr/bin/env bash
# Export figures, release build: encode + gzip + SHA-256 throughput on one core, then peak RSS
# of one export pass over N events (default 1,000,000) from SQLite to a directory. Built without
# the S3 feature (the AWS SDK is not on this path), so the release build stays short.
# Usage: scripts/bench-export.sh [events]
set -euo pipefail
cd "$(dirname "$0")/.."
count="${1:-1000000}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
run() { cargo run --locked --release -q -p auditlog-export --no-default-features --example export_bench -- "$@"; }
run encode 200000
run prepare "$work" "$count"
run export "$work"
