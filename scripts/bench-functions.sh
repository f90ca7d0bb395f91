#!/usr/bin/env bash
# The functions' release builds, side by side: for each candidate profile, a clean
# `cargo lambda build --release --arm64 --output-format zip` of each function on its own (as
# `sam build` builds them), its wall time, and both bootstraps' and zips' sizes. Each profile
# builds in a target directory of its own under target/profiles/ (delete it afterwards: a few
# GB each). Cargo.toml's [profile.release] is the one chosen from these figures.
# Usage: scripts/bench-functions.sh [profile names...], default all of them.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lambda-tools.sh
declare -A profiles=(
  # Cargo.toml's release profile as it stands (opt-level 3, thin LTO, 4 codegen units).
  [current]=""
  [s-thin]="CARGO_PROFILE_RELEASE_OPT_LEVEL=s"
  [z-thin]="CARGO_PROFILE_RELEASE_OPT_LEVEL=z"
  [s-fat]="CARGO_PROFILE_RELEASE_OPT_LEVEL=s CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1"
  [z-fat]="CARGO_PROFILE_RELEASE_OPT_LEVEL=z CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1"
  [3-fat]="CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1"
)
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(current s-thin z-thin s-fat z-fat 3-fat)
for name in "${names[@]}"; do
  [ -n "${profiles[$name]+set}" ] || { echo "no profile named $name" >&2; exit 2; }
done
echo "| profile | build (s) | ingest bootstrap | ingest zip | export bootstrap | export zip |"
echo "| --- | --- | --- | --- | --- | --- |"
for name in "${names[@]}"; do
  dir="target/profiles/$name"
  rm -rf "$dir" "$dir.log"
  mkdir -p "$dir"
  start=$(date +%s)
  for package in auditlog-ingest auditlog-export-fn; do
    env ${profiles[$name]} CARGO_TARGET_DIR="$dir" \
      cargo lambda build --release --arm64 --output-format zip -p "$package" >>"$dir.log" 2>&1 ||
      { cat "$dir.log"; exit 1; }
  done
  seconds=$(( $(date +%s) - start ))
  lambda="$dir/lambda"
  sizes=$(python3 - "$lambda/auditlog-ingest/bootstrap.zip" "$lambda/auditlog-export/bootstrap.zip" <<'PY'
import os, sys, zipfile
cells = []
for path in sys.argv[1:]:
    inner = zipfile.ZipFile(path).getinfo("bootstrap").file_size
    cells += [f"{inner / 1e6:.2f} MB", f"{os.path.getsize(path) / 1e6:.2f} MB"]
print(" | ".join(cells))
PY
)
  echo "| $name | $seconds | $sizes |"
done
