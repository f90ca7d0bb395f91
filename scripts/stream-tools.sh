#!/usr/bin/env bash
# The checkers of the stream formats, installed on first use: `ocsf-json-schema` and
# `jsonschema` (PyPI, a venv in .cache/ocsf) for OCSF records, and Elastic's `@elastic/ecs`
# field definitions (npm, .cache/ecs-tools) for ECS documents. Exports AUDITLOG_OCSF_PYTHON
# and AUDITLOG_ECS_TOOLS for tests/tests/stream_formats.rs. Source it:
# `source scripts/stream-tools.sh`.
set -euo pipefail
stream_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ocsf_venv="$stream_root/.cache/ocsf"
if ! "$ocsf_venv/bin/python" -c 'import ocsf_json_schema, jsonschema' >/dev/null 2>&1; then
  python3 -m venv "$ocsf_venv"
  "$ocsf_venv/bin/pip" install --quiet 'ocsf-json-schema==1.2.0' 'jsonschema==4.26.0'
fi
ecs_tools="$stream_root/.cache/ecs-tools"
if [ ! -d "$ecs_tools/node_modules/@elastic/ecs" ] \
  || ! cmp -s "$stream_root/tests/support/ecs/package.json" "$ecs_tools/package.json"; then
  mkdir -p "$ecs_tools"
  cp "$stream_root/tests/support/ecs/package.json" "$ecs_tools/package.json"
  (cd "$ecs_tools" && npm install --silent --no-audit --no-fund >/dev/null)
fi
cp "$stream_root/tests/support/ecs/check.mjs" "$ecs_tools/check.mjs"
export AUDITLOG_OCSF_PYTHON="$ocsf_venv/bin/python"
export AUDITLOG_ECS_TOOLS="$ecs_tools"
