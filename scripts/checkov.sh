#!/usr/bin/env bash
# Puts checkov (Prisma Cloud's infrastructure-as-code scanner, from PyPI) in its own virtualenv
# at .cache/checkov, installing it on first use, and exports AUDITLOG_CHECKOV for
# tests/tests/azure_template.rs, which scans the customer's Azure template with it (checkov
# reads ARM JSON offline; its only network call, for guideline links, fails harmlessly).
# Source it: `source scripts/checkov.sh`.
set -euo pipefail
checkov_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.cache/checkov"
if [ ! -x "$checkov_root/bin/checkov" ]; then
  python3 -m venv "$checkov_root"
  "$checkov_root/bin/pip" install --quiet 'checkov==3.3.30'
fi
export AUDITLOG_CHECKOV="$checkov_root/bin/checkov"
