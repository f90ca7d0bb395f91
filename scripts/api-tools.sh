#!/usr/bin/env bash
# Schemathesis (the property-based API tester) and openapi-python-client (a client generator),
# both from PyPI, for the OpenAPI tests (crates/cli/tests/openapi.rs). Installs them into the
# Python the tests use when they are missing, and exports that Python as AUDITLOG_TEST_PYTHON.
# Source it: `source scripts/api-tools.sh`.
set -euo pipefail

api_python="${AUDITLOG_TEST_PYTHON:-python3}"
if ! "$api_python" -c 'import schemathesis, openapi_python_client' >/dev/null 2>&1; then
  "$api_python" -m pip install --quiet schemathesis openapi-python-client
fi
AUDITLOG_TEST_PYTHON="$("$api_python" -c 'import sys; print(sys.executable)')"
export AUDITLOG_TEST_PYTHON
