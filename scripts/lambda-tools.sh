#!/usr/bin/env bash
# Puts cargo-lambda (with zig) and the SAM CLI on PATH from a virtualenv, .cache/lambda-venv,
# installing them there (pip) on first use. cargo-lambda runs zig as `python3 -m ziglang`, so
# this venv must come first on PATH. Source it: `source scripts/lambda-tools.sh`.
set -euo pipefail
lambda_venv="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.cache/lambda-venv"
if [ ! -x "$lambda_venv/bin/cargo-lambda" ] || [ ! -x "$lambda_venv/bin/sam" ]; then
  python3 -m venv "$lambda_venv"
  "$lambda_venv/bin/pip" install --quiet --disable-pip-version-check cargo-lambda aws-sam-cli
fi
export PATH="$lambda_venv/bin:$PATH"
