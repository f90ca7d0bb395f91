#!/usr/bin/env bash
# The edge component's throughput, side by side in one run on this machine (release builds, one
# client sending the same 500-event batch, one request at a time):
#
#   native decide     the edge's decision (validate + mask + build the forward) natively
#   jco -> stub       POST to the component under `jco serve`, whose origin answers at once:
#                     the component's work and the host's HTTP, WebAssembly on Node
#   serve             POST straight to `auditlog serve` (validate + mask + store in SQLite)
#   jco -> serve      POST to the component, forwarding to that `auditlog serve`
#   wasmtime -> ...   the same two under `wasmtime serve` (Cranelift-compiled, an instance per
#                     request)
#
#   bash scripts/bench-edge.sh [requests]        (default 40 requests of 500 events)
set -euo pipefail
cd "$(dirname "$0")/.."
requests="${1:-40}"
source scripts/jco.sh
source scripts/wasmtime.sh
cargo build -q --release -p auditlog-cli
cargo build -q --release -p auditlog-edge --target wasm32-wasip2
cargo build -q --release -p auditlog-edge --example decide
target="${CARGO_TARGET_DIR:-target}"
component="$target/wasm32-wasip2/release/auditlog_edge.wasm"
work="$(mktemp -d)"
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for() { for _ in $(seq 1 120); do curl -s -o /dev/null "$1" && return 0; sleep 0.25; done; echo "no answer from $1" >&2; exit 1; }

node scripts/bench-edge.mjs body > "$work/body.json"
echo "component: $component ($(stat -c %s "$component") bytes)"
echo "body: $(stat -c %s "$work/body.json") bytes, 500 events"
echo "native decide: $("$target/release/examples/decide" "$work/body.json" 200)"

serve_port="$(port)"; stub_port="$(port)"; jco_serve_port="$(port)"; jco_stub_port="$(port)"
wt_serve_port="$(port)"; wt_stub_port="$(port)"
export AUDITLOG_DATA_DIR="$work/data"
key="$("$target/release/auditlog" keys create --tenant bench --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')"
"$target/release/auditlog" serve --listen "127.0.0.1:$serve_port" >"$work/serve.log" 2>&1 &
pids+=($!)
node scripts/bench-edge.mjs stub "$stub_port" &
pids+=($!)
AUDITLOG_ORIGIN_URL="http://127.0.0.1:$serve_port" "$AUDITLOG_TEST_JCO" serve "$component" \
  --host 127.0.0.1 --port "$jco_serve_port" >"$work/jco-serve.log" 2>&1 &
pids+=($!)
AUDITLOG_ORIGIN_URL="http://127.0.0.1:$stub_port" "$AUDITLOG_TEST_JCO" serve "$component" \
  --host 127.0.0.1 --port "$jco_stub_port" >"$work/jco-stub.log" 2>&1 &
pids+=($!)
for origin in "$serve_port:$wt_serve_port" "$stub_port:$wt_stub_port"; do
  "$AUDITLOG_TEST_WASMTIME" serve -Scli -Opooling-allocator=n --addr "127.0.0.1:${origin#*:}" \
    --env "AUDITLOG_ORIGIN_URL=http://127.0.0.1:${origin%%:*}" "$component" >>"$work/wasmtime.log" 2>&1 &
  pids+=($!)
done
for p in "$serve_port" "$stub_port" "$jco_serve_port" "$jco_stub_port" "$wt_serve_port" "$wt_stub_port"; do
  wait_for "http://127.0.0.1:$p/"
done

node scripts/bench-edge.mjs load "http://127.0.0.1:$jco_stub_port" "$key" "$work/body.json" "$requests" "jco -> stub"
node scripts/bench-edge.mjs load "http://127.0.0.1:$serve_port" "$key" "$work/body.json" "$requests" "serve"
node scripts/bench-edge.mjs load "http://127.0.0.1:$jco_serve_port" "$key" "$work/body.json" "$requests" "jco -> serve"
node scripts/bench-edge.mjs load "http://127.0.0.1:$wt_stub_port" "$key" "$work/body.json" "$requests" "wasmtime -> stub"
node scripts/bench-edge.mjs load "http://127.0.0.1:$wt_serve_port" "$key" "$work/body.json" "$requests" "wasmtime -> serve"
