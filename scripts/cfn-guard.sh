#!/usr/bin/env bash
# Puts cfn-guard (AWS CloudFormation Guard, from crates.io) at .cache/cfn-guard, installing it on
# first use, and exports AUDITLOG_CFN_GUARD for tests/tests/infrastructure.rs. A debug build: it
# compiles in half the time of a release one and checks two templates in milliseconds.
# Source it: `source scripts/cfn-guard.sh`.
set -euo pipefail
cfn_guard_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.cache/cfn-guard"
if [ ! -x "$cfn_guard_root/bin/cfn-guard" ]; then
  cargo install --quiet --locked --debug cfn-guard --version 3.2.1 --root "$cfn_guard_root" \
    --target-dir "$cfn_guard_root/target"
  rm -rf "$cfn_guard_root/target"
fi
export AUDITLOG_CFN_GUARD="$cfn_guard_root/bin/cfn-guard"
