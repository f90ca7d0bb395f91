#!/usr/bin/env bash
# Export figures, release build: encode + gzip + SHA-256 throughput on one core, then one export
# of N events (default 1,000,000) from SQLite to a directory and, in a process of its own, the
# same events to Azure Blob Storage on the Azurite emulator (started here; skipped with
# AUDITLOG_BENCH_NO_AZURE=1): events and objects per second for each, and each process's peak
# RSS. Built without the S3 feature (the AWS SDK is not on this path).
# Usage: scripts/bench-export.sh [events]
set -euo pipefail
cd "$(dirname "$0")/.."
count="${1:-1000000}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
run() { cargo run --locked --release -q -p auditlog-export --no-default-features --features azure --example export_bench -- "$@"; }
run encode 200000
run prepare "$work" "$count"
if [ "${AUDITLOG_BENCH_NO_AZURE:-}" != "1" ]; then
  if [ -z "${AUDITLOG_TEST_AZURITE_URL:-}" ]; then
    source scripts/azurite.sh
  fi
  node "$AUDITLOG_TEST_AZURE_TOOLS/admin.mjs" container bench >/dev/null
  # Azurite's well-known development key (public; the emulator's own).
  printf '%s' 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==' > "$work/azure-key"
  run add-azure "$work" "$AUDITLOG_TEST_AZURITE_URL/devstoreaccount1" bench "$work/azure-key"
  run export "$work" azure
fi
run export "$work" directory
