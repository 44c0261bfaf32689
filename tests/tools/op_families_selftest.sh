#!/usr/bin/env bash
# Self-test of tools/check-op-families.sh (CTest OpFamilies.SelfTest): on a small temporary tree it
# must pass when the CPU and CUDA stems match (backend-only files on its list allowed), and fail,
# naming the file, when a CUDA kernel file has no CPU counterpart or the other way round, and when
# a kernel declaration does not state whether it writes (=) or accumulates (+=) its outputs.
set -euo pipefail
script="$(cd "$(dirname "$0")/../.." && pwd)/tools/check-op-families.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

mkdir -p "$tmp/kernels/cpu" "$tmp/kernels/cuda"
touch "$tmp/kernels/cpu/matmul.h" "$tmp/kernels/cpu/matmul.cpp" "$tmp/kernels/cuda/matmul.h" "$tmp/kernels/cuda/matmul.cu"
touch "$tmp/kernels/cuda/device_runtime.cu" "$tmp/kernels/cuda/common.cuh"   # allowed: CUDA runtime, a header
touch "$tmp/kernels/cpu/shape.h" "$tmp/kernels/cpu/shape.cpp"                 # allowed: CPU-only by design

"$script" "$tmp" > "$tmp/out" 2>&1 || { cat "$tmp/out"; fail "matching stems were rejected"; }

touch "$tmp/kernels/cuda/gemm.h" "$tmp/kernels/cuda/gemm.cu"
if "$script" "$tmp" > "$tmp/out" 2>&1; then fail "kernels/cuda/gemm.cu without kernels/cpu/gemm.cpp was accepted"; fi
grep -q '^kernels/cuda/gemm.cu: no kernels/cpu/gemm.cpp' "$tmp/out" || { cat "$tmp/out"; fail "the CUDA-only file is not named"; }
rm "$tmp/kernels/cuda/gemm.h" "$tmp/kernels/cuda/gemm.cu"

touch "$tmp/kernels/cpu/loss.h" "$tmp/kernels/cpu/loss.cpp"
if "$script" "$tmp" > "$tmp/out" 2>&1; then fail "kernels/cpu/loss.cpp without kernels/cuda/loss.cu was accepted"; fi
grep -q '^kernels/cpu/loss.cpp: no kernels/cuda/loss.cu' "$tmp/out" || { cat "$tmp/out"; fail "the CPU-only file is not named"; }
touch "$tmp/kernels/cuda/loss.cu"
if "$script" "$tmp" > "$tmp/out" 2>&1; then fail "kernels/cuda/loss.cu without its header was accepted"; fi
grep -q '^kernels/cuda/loss.cu: no kernels/cuda/loss.h' "$tmp/out" || { cat "$tmp/out"; fail "the missing header is not named"; }
touch "$tmp/kernels/cuda/loss.h"

"$script" "$tmp" > "$tmp/out" 2>&1 || { cat "$tmp/out"; fail "the tree is not clean again"; }

# A backend-only stem that gained its counterpart must leave the list.
touch "$tmp/kernels/cuda/shape.h" "$tmp/kernels/cuda/shape.cu"
if "$script" "$tmp" > "$tmp/out" 2>&1; then fail "a stale backend-only entry was accepted"; fi
grep -q "'shape' is listed as CPU-only" "$tmp/out" || { cat "$tmp/out"; fail "the stale entry is not named"; }
rm "$tmp/kernels/cuda/shape.h" "$tmp/kernels/cuda/shape.cu"

# The output contract on each declaration.
cat > "$tmp/kernels/cpu/matmul.h" <<'H'
// C (M, N) = A @ B   (=)
void gemm_f32(const float* a, const float* b, float* c,
              int m, int n, int k);
void gemm_acc_f32(const float* a, const float* b, float* c, int m);  // C += A @ B
inline int helper(int x) { return x; }
H
"$script" "$tmp" > "$tmp/out" 2>&1 || { cat "$tmp/out"; fail "declarations with their contract were rejected"; }
cat >> "$tmp/kernels/cpu/matmul.h" <<'H'
// Scales the rows.
void scale_rows_f32(float* c, int m);
H
if "$script" "$tmp" > "$tmp/out" 2>&1; then fail "a declaration without its contract was accepted"; fi
grep -q '^kernels/cpu/matmul.h:7: the declaration does not say whether it writes' "$tmp/out" ||
  { cat "$tmp/out"; fail "the declaration without a contract is not named"; }
echo "OpFamilies self-test passed"
