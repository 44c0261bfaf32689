#!/usr/bin/env bash
# Checks that the CPU and CUDA kernels of an op family share one file stem: every
# kernels/cuda/<stem>.cu has a kernels/cpu/<stem>.cpp and every kernels/cpu/<stem>.cpp a
# kernels/cuda/<stem>.cu, and each source has its header (<stem>.h), so kernels/*/<family>.* lists
# both backends of a family. Files that exist on one backend only by design are listed below, each with
# its reason; anything else without a counterpart fails, naming the file.
#
# It also checks the output contract: every kernel declared in a family header
# (kernels/{cpu,cuda}/<stem>.h) says, in its comment or the comment block right above it, whether
# it writes (`=`) or accumulates (`+=`) each output, or updates in place, or only returns a value
# ("returns", "True when"). Both backends of a family must agree on it (the headers say which).
#
# Usage: tools/check-op-families.sh [repository root]   (default: the repository holding this script)
# Exit status: 0 when the stems match, 1 otherwise.
set -euo pipefail

root=${1:-"$(cd "$(dirname "$0")/.." && pwd)"}

# Backend-only stems (keep this list short: a new op family gets both backends).
cuda_only=(
  cuda_check      # CUDA error checking behind ANVIL_CUDA_CHECK / ANVIL_LAUNCH
  device_runtime  # the CUDA runtime (allocation, copies, streams) behind kernels/device_runtime.h
)
cpu_only=(
  shape           # concat/split block copies; CUDA tensors use convert's strided_copy
)

is_in() {
  local needle=$1; shift
  local x
  for x in "$@"; do [[ "$x" == "$needle" ]] && return 0; done
  return 1
}

fail=0
cd "$root"
[[ -d kernels/cpu && -d kernels/cuda ]] || { echo "check-op-families: no kernels/cpu and kernels/cuda under $root" >&2; exit 1; }
shopt -s nullglob
for f in kernels/cuda/*.cu; do
  stem=$(basename "$f" .cu)
  is_in "$stem" "${cuda_only[@]}" && continue
  if [[ ! -f kernels/cpu/$stem.cpp ]]; then
    echo "$f: no kernels/cpu/$stem.cpp (one stem per op family on both backends; rename, or add the CPU kernel)"
    fail=1
  fi
  if [[ ! -f kernels/cuda/$stem.h ]]; then
    echo "$f: no kernels/cuda/$stem.h declaring its kernels"
    fail=1
  fi
done
for f in kernels/cpu/*.cpp; do
  stem=$(basename "$f" .cpp)
  if [[ ! -f kernels/cpu/$stem.h ]]; then
    echo "$f: no kernels/cpu/$stem.h declaring its kernels"
    fail=1
  fi
  is_in "$stem" "${cpu_only[@]}" && continue
  if [[ ! -f kernels/cuda/$stem.cu ]]; then
    echo "$f: no kernels/cuda/$stem.cu (one stem per op family on both backends; rename, or add the CUDA kernel)"
    fail=1
  fi
done
# A stem allowed on one backend that now exists on both should leave the list.
for stem in "${cuda_only[@]}"; do
  [[ -f kernels/cpu/$stem.cpp ]] && { echo "kernels/cpu/$stem.cpp: '$stem' is listed as CUDA-only; remove it from the list"; fail=1; }
done
for stem in "${cpu_only[@]}"; do
  [[ -f kernels/cuda/$stem.cu ]] && { echo "kernels/cuda/$stem.cu: '$stem' is listed as CPU-only; remove it from the list"; fail=1; }
done

# The output contract of every declaration in the family headers.
for h in kernels/cpu/*.h kernels/cuda/*.h; do
  stem=$(basename "$h" .h)
  [[ -f kernels/cpu/$stem.cpp || -f kernels/cuda/$stem.cu ]] || continue  # not a family header (stream.h)
  awk -v file="$h" '
    function check(text, line) {
      if (text !~ /\(=|=\)|\+=|`=`|in place|[Rr]eturns|True when/) {
        printf "%s:%d: the declaration does not say whether it writes (=) or accumulates (+=) its outputs\n", file, line
        bad = 1
      }
    }
    /^[[:space:]]*\/\// { comments = comments " " $0; next }
    pending { decl = decl " " $0; if ($0 ~ /[;{][[:space:]]*(\/\/.*)?$/) { if ($0 !~ /{/) check(comments " " decl, start); pending = 0; comments = "" } ; next }
    /^(void|double|bool|float|int|int64_t|GemmBackend)[*]? [A-Za-z_0-9]+\(/ {
      decl = $0; start = FNR
      if ($0 ~ /[;{][[:space:]]*(\/\/.*)?$/) { if ($0 !~ /{/) check(comments " " decl, start); comments = "" } else pending = 1
      next
    }
    { comments = "" }
    END { exit bad }
  ' "$h" || fail=1
done
exit $fail
