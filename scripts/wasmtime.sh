#!/usr/bin/env bash
# Puts Wasmtime's CLI (crates.io `wasmtime-cli`, only what `wasmtime serve` needs: the serve and
# run commands, Cranelift, the component model) at .cache/wasmtime, building it on first use, and
# exports AUDITLOG_TEST_WASMTIME for the edge tests. Optimised at level 1, not Wasmtime's 3: the
# tests compile one small component per host start, which level 1 does in well under a second,
# and CI builds Wasmtime on one of its two cores beside the test build (level 1 takes about half
# the CPU time). Source it: `source scripts/wasmtime.sh`.
set -euo pipefail
wasmtime_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.cache/wasmtime"
wasmtime_version=48.0.8
if ! "$wasmtime_root/bin/wasmtime" --version 2>/dev/null | grep -q "$wasmtime_version"; then
  # The project's lint settings (CI's -D warnings, clippy as the compiler) are not Wasmtime's.
  env -u RUSTFLAGS -u RUSTC_WORKSPACE_WRAPPER CARGO_PROFILE_RELEASE_OPT_LEVEL=1 \
    cargo install --quiet --locked "wasmtime-cli@$wasmtime_version" --no-default-features \
    --features serve,run,cranelift,component-model-async --root "$wasmtime_root" \
    --target-dir "$wasmtime_root/target"
  rm -rf "$wasmtime_root/target"
fi
export AUDITLOG_TEST_WASMTIME="$wasmtime_root/bin/wasmtime"
