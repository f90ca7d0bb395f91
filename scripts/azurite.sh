#!/usr/bin/env bash
# Starts Azurite (Microsoft's Azure Storage emulator, npm `azurite`) on 127.0.0.1 for the Azure
# export tests: blob service only, in memory, telemetry off, on a free port. Installs it with
# Microsoft's Blob SDK (which the tests use to make containers and SAS tokens and to read back
# what landed) from tests/support/azure/package.json into .cache/. Exports
# AUDITLOG_TEST_AZURITE_URL and AUDITLOG_TEST_AZURE_TOOLS. Source it: `source scripts/azurite.sh`;
# Azurite is stopped by PID when the sourcing shell exits.
set -euo pipefail

azure_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
azure_tools="$azure_root/.cache/azure-tools"
if [ ! -x "$azure_tools/node_modules/.bin/azurite-blob" ] || [ ! -d "$azure_tools/node_modules/@azure/storage-blob" ]; then
  mkdir -p "$azure_tools"
  cp "$azure_root/tests/support/azure/package.json" "$azure_tools/package.json"
  (cd "$azure_tools" && npm install --silent --no-audit --no-fund >/dev/null)
fi
cp "$azure_root/tests/support/azure/admin.mjs" "$azure_tools/admin.mjs"
azurite_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$azure_tools/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 --blobPort "$azurite_port" \
  --inMemoryPersistence --disableTelemetry --silent >"$azure_root/.cache/azurite.log" 2>&1 &
azurite_pid=$!
auditlog_emulator_pids+=("$azurite_pid")
trap 'kill "${auditlog_emulator_pids[@]}" 2>/dev/null || true' EXIT
for _ in $(seq 1 60); do
  if curl -s "http://127.0.0.1:${azurite_port}/" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$azurite_pid" 2>/dev/null; then
    echo "Azurite exited; its log:" >&2
    cat "$azure_root/.cache/azurite.log" >&2
    exit 1
  fi
  sleep 0.5
done
export AUDITLOG_TEST_AZURITE_URL="http://127.0.0.1:${azurite_port}"
export AUDITLOG_TEST_AZURE_TOOLS="$azure_tools"
