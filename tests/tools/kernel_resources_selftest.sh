#!/usr/bin/env bash
# tools/check-kernel-resources.sh --parse on made-up ptxas -v output: a clean kernel passes, a
# spilling kernel and one over the static shared-memory limit fail, named, and empty output fails.
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
check="$root/tools/check-kernel-resources.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

entry() {  # name stack stores loads registers smem
  cat <<LOG
ptxas info    : Compiling entry function '$1' for 'sm_90'
ptxas info    : Function properties for $1
    $2 bytes stack frame, $3 bytes spill stores, $4 bytes spill loads
ptxas info    : Used $5 registers, used 1 barriers, $6 bytes smem
LOG
}
{ entry good_kernel 0 0 0 64 4096; entry local_array_kernel 1024 0 0 40 0; } > "$tmp/clean.log"
{ entry good_kernel 0 0 0 64 4096; entry spilling_kernel 16 8 12 255 0; } > "$tmp/spill.log"
entry fat_kernel 0 0 0 32 50000 > "$tmp/smem.log"
: > "$tmp/empty.log"

"$check" --parse "$tmp/clean.log" > "$tmp/out" 2>&1 || fail "a clean log failed: $(cat "$tmp/out")"
"$check" --parse "$tmp/spill.log" > "$tmp/out" 2>&1 && fail "a spilling kernel passed"
grep -q "spilling_kernel spills registers (8 bytes stores, 12 bytes loads)" "$tmp/out" || fail "spill not named: $(cat "$tmp/out")"
grep -q "good_kernel" "$tmp/out" && fail "a good kernel was named: $(cat "$tmp/out")"
"$check" --parse "$tmp/smem.log" > "$tmp/out" 2>&1 && fail "a kernel over 48 KiB of static shared memory passed"
grep -q "fat_kernel uses 50000 bytes of static shared memory" "$tmp/out" || fail "smem not named: $(cat "$tmp/out")"
"$check" --parse "$tmp/empty.log" > "$tmp/out" 2>&1 && fail "output without any kernel passed"
echo "ok: clean passes; spills, static shared memory over 48 KiB and empty output fail"
