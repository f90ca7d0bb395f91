#!/usr/bin/env bash
# Starts moto_server (pip `moto[server]`) on 127.0.0.1 for S3, STS and IAM, with IAM enforced:
# after the first three requests (which make an admin user and its key here), every request
# must be signed by a key moto issued, and IAM policies, role trust policies and external ids
# are checked. Tests therefore meet real denials, not fake ones. Exports the endpoints and the
# admin key. Source it: `source scripts/moto.sh`; moto is stopped by PID when the shell exits.
# It runs through tests/support/moto_server.py, which fixes moto's signature check for keys
# holding `=` (our Hive-style object names); see that file.
set -euo pipefail

python3 -c 'import moto, flask, boto3, zstandard' >/dev/null 2>&1 || python3 -m pip install --quiet 'moto[server]' zstandard
moto_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
moto_log="$moto_root/.cache/moto.log"
mkdir -p "$(dirname "$moto_log")"
moto_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
INITIAL_NO_AUTH_ACTION_COUNT=3 python3 "$moto_root/tests/support/moto_server.py" -H 127.0.0.1 -p "$moto_port" >"$moto_log" 2>&1 &
moto_pid=$!
auditlog_emulator_pids+=("$moto_pid")
trap 'kill "${auditlog_emulator_pids[@]}" 2>/dev/null || true' EXIT
for _ in $(seq 1 60); do
  # /moto-api/ is moto's own dashboard: it does not count as one of the unauthenticated actions.
  if curl -s "http://127.0.0.1:${moto_port}/moto-api/" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$moto_pid" 2>/dev/null; then
    echo "moto_server exited; its log:" >&2
    cat "$moto_log" >&2
    exit 1
  fi
  sleep 0.5
done
moto_url="http://127.0.0.1:${moto_port}"
read -r moto_key moto_secret < <(python3 - "$moto_url" <<'PY'
import json, sys, boto3
iam = boto3.client("iam", endpoint_url=sys.argv[1], region_name="us-east-1",
                   aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
iam.create_user(UserName="auditlog-admin")
iam.put_user_policy(UserName="auditlog-admin", PolicyName="admin", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
key = iam.create_access_key(UserName="auditlog-admin")["AccessKey"]
print(key["AccessKeyId"], key["SecretAccessKey"])
PY
)
export AWS_ENDPOINT_URL_S3="$moto_url" AWS_ENDPOINT_URL_STS="$moto_url" AWS_ENDPOINT_URL_IAM="$moto_url"
export AWS_ACCESS_KEY_ID="$moto_key" AWS_SECRET_ACCESS_KEY="$moto_secret"
export AWS_REGION="${AWS_REGION:-us-east-1}"
# The Python that has boto3 (moto's own): the tests' independent S3 checks run with it, even
# after another virtualenv (cargo-lambda's) comes first on PATH.
AUDITLOG_TEST_PYTHON="$(python3 -c 'import sys; print(sys.executable)')"
export AUDITLOG_TEST_PYTHON
echo "moto_server (pid $moto_pid) at $moto_url, IAM enforced"
