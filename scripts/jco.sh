#!/usr/bin/env bash
# Installs jco (npm `@bytecodealliance/jco`, the Bytecode Alliance's toolchain for WebAssembly
# components, whose `jco serve` is a wasi:http host on Node) from tests/support/edge/package.json
# into .cache/edge-tools, and exports AUDITLOG_TEST_JCO, the command the edge tests and
# scripts/bench-edge.sh run. Source it: `source scripts/jco.sh`.
set -euo pipefail

edge_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
edge_tools="$edge_root/.cache/edge-tools"
if [ ! -x "$edge_tools/node_modules/.bin/jco" ] \
  || ! cmp -s "$edge_root/tests/support/edge/package.json" "$edge_tools/package.json"; then
  mkdir -p "$edge_tools"
  cp "$edge_root/tests/support/edge/package.json" "$edge_tools/package.json"
  (cd "$edge_tools" && npm install --silent --no-audit --no-fund >/dev/null)
fi
export AUDITLOG_TEST_JCO="$edge_tools/node_modules/.bin/jco"
