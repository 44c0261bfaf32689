#!/usr/bin/env bash
# Checks what ptxas says of every CUDA kernel, so that a register spill or a shared-memory overflow
# shows in CI (which has nvcc but no GPU) before any GPU window:
#   - no kernel spills registers to local memory (spill stores/loads must be 0 bytes);
#   - no kernel's static shared memory exceeds 48 KiB (the most a kernel gets without opting in).
# Stack frames (local arrays such as the simple attention path's) are listed, not failed.
#
#   tools/check-kernel-resources.sh [--arch sm_90] [--nvcc PATH] SOURCE_DIR   compile each kernels/cuda/*.cu
#                                                                             to a cubin with -Xptxas -v
#   tools/check-kernel-resources.sh --parse LOG...                            only judge ptxas -v output
set -uo pipefail

arch=sm_90
nvcc=${NVCC:-nvcc}
parse_only=0
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) arch=$2; shift 2 ;;
    --nvcc) nvcc=$2; shift 2 ;;
    --parse) parse_only=1; shift ;;
    *) args+=("$1"); shift ;;
  esac
done

# Reads ptxas -v output on stdin (each log prefixed by a "== <file>" line) and prints one line per
# violation; prints a summary on stderr. Exit 1 when anything is over budget.
judge() {
  awk -v smem_limit=49152 '
    /^== / { file = $2; next }
    /Compiling entry function/ {
      fn = $0; sub(/.*entry function \047/, "", fn); sub(/\047.*/, "", fn); kernels++; next
    }
    /bytes spill stores/ {
      # "    N bytes stack frame, S bytes spill stores, L bytes spill loads"
      stack = $1; stores = $5; loads = $9
      if (stores + 0 > 0 || loads + 0 > 0) {
        printf "%s: %s spills registers (%d bytes stores, %d bytes loads)\n", file, fn, stores, loads; bad++
      }
      if (stack + 0 > 0) stacks++
      next
    }
    /Used [0-9]+ registers/ {
      if (match($0, /[0-9]+ bytes smem/)) {
        smem = substr($0, RSTART, RLENGTH); sub(/ bytes smem/, "", smem)
        if (smem + 0 > smem_limit) {
          printf "%s: %s uses %d bytes of static shared memory (limit %d)\n", file, fn, smem, smem_limit; bad++
        }
      }
      next
    }
    END {
      printf "%d kernel(s) checked, %d with a stack frame, %d over budget\n", kernels, stacks, bad > "/dev/stderr"
      if (kernels == 0) { print "no kernel found in the ptxas output" > "/dev/stderr"; exit 1 }
      exit bad > 0 ? 1 : 0
    }'
}

if [ "$parse_only" = 1 ]; then
  for log in "${args[@]}"; do echo "== $log"; cat "$log"; done | judge
  exit $?
fi

src=${args[0]:-}
[ -n "$src" ] && [ -d "$src/kernels/cuda" ] || { echo "usage: $0 [--arch sm_NN] SOURCE_DIR" >&2; exit 2; }
command -v "$nvcc" >/dev/null 2>&1 || { echo "nvcc not found ($nvcc)" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
jobs_max=$(nproc 2>/dev/null || echo 2)
for cu in "$src"/kernels/cuda/*.cu; do
  name=$(basename "$cu")
  # Device code only (-cubin): the same flags as the build's kernels, without the host pass.
  "$nvcc" -DANVIL_HAS_CUDA=1 -I"$src" -O3 -DNDEBUG -arch="$arch" --expt-relaxed-constexpr -std=c++20 \
    -Xptxas -v -cubin -o "$tmp/$name.cubin" "$cu" > "$tmp/$name.log" 2>&1 || echo "nvcc failed on $name" > "$tmp/$name.failed" &
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n; done
done
wait
if ls "$tmp"/*.failed >/dev/null 2>&1; then
  for f in "$tmp"/*.failed; do cat "$f"; cat "${f%.failed}.log"; done
  exit 1
fi
for log in "$tmp"/*.log; do echo "== $(basename "$log" .log)"; cat "$log"; done | judge
