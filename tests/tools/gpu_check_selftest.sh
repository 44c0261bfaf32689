#!/usr/bin/env bash
# tools/gpu-check.sh on a machine where no GPU can be used must fail at once (exit 2, saying why)
# instead of building, skipping every gpu test and passing. Skips (77) where a GPU is usable.
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then
  echo "a GPU is usable here: tools/gpu-check.sh would run for real"
  exit 77
fi
build="$(mktemp -d)/never-built"
out=$("$root/tools/gpu-check.sh" "$build" 2>&1)
rc=$?
fail() { echo "FAIL: $*"; echo "--- output:"; echo "$out"; exit 1; }
[ "$rc" -eq 2 ] || fail "expected exit 2 without a GPU, got $rc"
grep -q "no usable GPU" <<<"$out" || fail "the message does not say that no GPU is usable"
[ ! -e "$build" ] || fail "it configured a build before finding that no GPU is usable"
echo "ok: without a GPU, gpu-check fails at once with exit 2"
