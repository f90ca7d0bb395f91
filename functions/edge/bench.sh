#!/usr/bin/env bash
# Validate+mask throughput of the edge module: natively, and as WebAssembly under Node's WASI,
# on the same 500-event envelope built from the fixtures. Prints events/s for each and the ratio.
#
#   bash functions/edge/bench.sh [runs]     (default 200 runs of the 500-event envelope)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs="${1:-200}"
cargo build -q --release -p auditlog-edge
cargo build -q --release -p auditlog-edge --target wasm32-wasip1
target="${CARGO_TARGET_DIR:-target}"
module="$target/wasm32-wasip1/release/auditlog-edge.wasm"
envelope="$(mktemp)"
trap 'rm -f "$envelope"' EXIT
node --input-type=module -e '
  import { readFileSync, readdirSync } from "node:fs";
  const dir = "tests/fixtures";
  const events = [];
  for (const f of ["valid/full.json", "valid/set-password.json", "mapped/logger-record.json"]) {
    events.push(JSON.parse(readFileSync(`${dir}/${f}`, "utf8")));
  }
  for (const f of readdirSync(`${dir}/mapped`).filter((f) => f.endsWith(".ndjson"))) {
    for (const line of readFileSync(`${dir}/mapped/${f}`, "utf8").split("\n").filter(Boolean)) {
      events.push(JSON.parse(line));
    }
  }
  const batch = Array.from({ length: 500 }, (_, i) => ({ ...events[i % events.length], id: `bench-${i}` }));
  process.stdout.write(JSON.stringify({
    headers: { "content-type": "application/json", authorization: "Bearer bench" },
    body: JSON.stringify({ events: batch }),
    now_ms: Date.now(),
  }));
' > "$envelope"
echo "module: $module ($(stat -c %s "$module") bytes)"
native=$("$target/release/auditlog-edge" --repeat "$runs" < "$envelope" 2>&1 >/dev/null)
wasm=$(node --no-warnings functions/edge/host/run.mjs "$module" --repeat "$runs" < "$envelope" 2>&1 >/dev/null)
echo "native: $native"
echo "wasm:   $wasm"
node -e '
  const n = JSON.parse(process.argv[1]).events_per_second, w = JSON.parse(process.argv[2]).events_per_second;
  console.log(`wasm under node / native = ${(w / n).toFixed(2)}`);
' "$native" "$wasm"
