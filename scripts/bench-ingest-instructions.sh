#!/usr/bin/env bash
# Instructions per event of the ingest path and of the bare `serde_json::Value` parse it is
# compared with (`crates/core/benches/ingest_vs_parse.rs`), counted by callgrind: unlike times on
# a shared machine, the counts repeat run after run. Each side runs N batches of 500 events and
# then 0 (the setup alone); the difference over N x 500 is the figure. valgrind does not emulate
# the SHA-NI instructions, so under it `sha2` runs its software SHA-256: its compress function is
# also shown apart and left out of the second figure (with SHA-NI it is about 12% of the path's
# time, `perf record`).
# Usage: scripts/bench-ingest-instructions.sh [batches], default 10. Needs valgrind.
set -euo pipefail
cd "$(dirname "$0")/.."
batches="${1:-10}"
bench=$(cargo bench -p auditlog-core --bench ingest_vs_parse --no-run 2>&1 |
  sed -n 's/.*Executable .*(\(.*\))$/\1/p' | tail -1)
[ -x "$bench" ] || { echo "no bench executable found" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# Prints "<all instructions> <instructions in sha2's software compress>" for one run.
count() {
  AUDITLOG_BENCH_ONLY="$1" AUDITLOG_BENCH_ITERATIONS="$2" valgrind --tool=callgrind \
    --callgrind-out-file="$out/$1.$2" "$bench" --bench >/dev/null 2>&1
  callgrind_annotate "$out/$1.$2" 2>/dev/null | awk '
    /PROGRAM TOTALS/ { gsub(",", "", $1); total = $1 }
    /sha256::soft/ { gsub(",", "", $1); sha += $1 }
    END { print total, sha + 0 }'
}
echo "| side | instructions per event | without sha2's software compress |"
echo "| --- | --- | --- |"
for side in ingest parse; do
  read -r base base_sha < <(count "$side" 0)
  read -r all all_sha < <(count "$side" "$batches")
  events=$((batches * 500))
  echo "| $side | $(((all - base) / events)) | $(((all - base - all_sha + base_sha) / events)) |"
done
