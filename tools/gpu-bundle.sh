#!/usr/bin/env bash
# Builds, on a machine without a GPU, what a GPU window runs: the CUDA build (Release, sm_90a and
# sm_90 code plus compute_90 PTX) of `anvil` and of every gpu test, as a folder to carry to the
# device, where nothing is built. The binaries (each links the kernels' device code for three
# targets) and ICU's data come to ~175 MiB, so the folder holds them xz-compressed:
#
#   OUTDIR/payload.tar.xz     bin/anvil, bin/kernels_bench, tests/*_gpu_test (stripped, rpath $ORIGIN/../lib), lib/ (the
#                             shared libraries they need beyond glibc's, the C++ runtime's and the
#                             CUDA driver's), run-gpu-tests.sh (every gpu test, per-binary timeout)
#   OUTDIR/unpack.sh [DIR]    unpacks the payload (default under $TMPDIR; xz, or Python's lzma where
#                             xz is missing) and prints the folder
#   OUTDIR/MANIFEST           what was built, from which commit, and the sizes
#
# tools/gpu-check.sh --bundle OUTDIR unpacks and runs it.
#
#   tools/gpu-bundle.sh [OUTDIR]     (default gpu-bundle; BUILD_DIR=build-bundle is the build tree)
#
# Portability: no -march=native (the device's CPU is another), libstdc++/libgcc linked statically,
# no MPI or NCCL (the device image has neither; multi-rank logic is tested on the CPU backend), and
# the CUDA runtime copied in. The folder must stay under 48 MiB (the carry limit is 64 MiB for all).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-gpu-bundle}
BUILD_DIR=${BUILD_DIR:-build-bundle}
LIMIT_BYTES=$((48 * 1024 * 1024))
export PATH="$PATH:/usr/local/cuda/bin"

command -v nvcc >/dev/null || { echo "gpu-bundle: nvcc not found (needs the CUDA toolkit)" >&2; exit 2; }
if ! command -v patchelf >/dev/null; then
  if [ "$(id -u)" = 0 ]; then apt-get install -y -qq patchelf >/dev/null; else
    echo "gpu-bundle: needs patchelf (apt-get install patchelf)" >&2; exit 2; fi
fi

echo "== configure $BUILD_DIR"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DANVIL_CUDA=ON -DANVIL_NATIVE=OFF \
  -DCMAKE_CUDA_ARCHITECTURES=90 \
  -DCMAKE_CUDA_FLAGS="--generate-code=arch=compute_90a,code=sm_90a" \
  -DCMAKE_DISABLE_FIND_PACKAGE_MPI=ON -DCMAKE_DISABLE_FIND_PACKAGE_NCCL=ON \
  -DCMAKE_EXE_LINKER_FLAGS="-static-libstdc++ -static-libgcc" ${ANVIL_CMAKE_ARGS:-} >/dev/null

gpu_tests=$(cd tests && find . -name '*_gpu_test.cpp' -printf '%f\n' | sed 's/\.cpp$//' | sort)
echo "== build anvil and $(echo "$gpu_tests" | wc -l) gpu test binaries"
# shellcheck disable=SC2086
cmake --build "$BUILD_DIR" -j "$(nproc)" --target anvil kernels_bench $gpu_tests

rm -rf "$OUT"
FINAL=$OUT
OUT="$FINAL/stage"  # staged here, then packed into $FINAL/payload.tar.xz
mkdir -p "$OUT/bin" "$OUT/tests" "$OUT/lib"
cp "$BUILD_DIR/bin/anvil" "$BUILD_DIR/bin/kernels_bench" "$OUT/bin/"
for t in $gpu_tests; do cp "$BUILD_DIR/tests/$t" "$OUT/tests/"; done

# Libraries the device lacks: everything ldd resolves except glibc's, the C++ runtime's and the
# CUDA driver's (libcuda comes with the driver and must match it).
is_system_lib() {
  case "$1" in
    linux-vdso*|ld-linux*|libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|libgcc_s.so*|libstdc++.so*|libcuda.so*) return 0 ;;
    *) return 1 ;;
  esac
}
for f in "$OUT"/bin/* "$OUT"/tests/*; do
  ldd "$f" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' | while read -r name path; do
    is_system_lib "$name" && continue
    [ -e "$OUT/lib/$name" ] || cp -L "$path" "$OUT/lib/$name"
  done
done
for f in "$OUT"/bin/* "$OUT"/tests/*; do
  strip --strip-unneeded "$f"
  patchelf --set-rpath '$ORIGIN/../lib' "$f"
done
for f in "$OUT"/lib/*; do
  strip --strip-unneeded "$f" 2>/dev/null || true
  patchelf --set-rpath '$ORIGIN' "$f"
done

cat > "$OUT/run-gpu-tests.sh" <<'RUN'
#!/usr/bin/env bash
# Runs every gpu test binary of this bundle (each under a timeout), from the repository root the
# bundle was made in (default: the current folder), and prints one line per binary and a total.
# Exit 0 only when every binary passed and at least one test ran rather than skipped.
#   run-gpu-tests.sh [--timeout S] [--source REPO_ROOT] [gtest flags...]
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
timeout_s=300
src="$PWD"
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --timeout) timeout_s=$2; shift 2 ;;
    --source) src=$2; shift 2 ;;
    *) extra+=("$1"); shift ;;
  esac
done
export ANVIL_SOURCE_DIR="$src" ANVIL_SHARED_DIR="$src/tests/fixtures" ANVIL_BINARY="$here/bin/anvil"
work=$(mktemp -d)
failed=0 ran=0 skipped=0
for t in "$here"/tests/*_gpu_test; do
  name=$(basename "$t")
  log="$work/$name.log"
  (cd "$work" && timeout "$timeout_s" "$t" "${extra[@]}" >"$log" 2>&1)
  rc=$?
  # Per-test lines end in "(N ms)"; gtest's closing list repeats the skipped ones without it.
  p=$(grep -cE '^\[       OK \] .* \([0-9]+ ms\)$' "$log"); s=$(grep -cE '^\[  SKIPPED \] .* \([0-9]+ ms\)$' "$log")
  ran=$((ran + p)); skipped=$((skipped + s))
  if [ "$rc" -ne 0 ]; then
    failed=$((failed + 1)); echo "FAIL $name (exit $rc$([ "$rc" = 124 ] && echo ", timed out after ${timeout_s}s"))"
    grep -E '^\[  FAILED  \]|Failure|error' "$log" | head -20
  else
    echo "ok   $name ($p passed, $s skipped)"
  fi
done
echo "gpu tests: $ran passed, $skipped skipped, $failed binaries failed"
[ "$failed" -eq 0 ] && [ "$ran" -gt 0 ]
RUN
chmod +x "$OUT/run-gpu-tests.sh"

unpacked_size=$(du -sb "$OUT" | cut -f1)
echo "== packing $((unpacked_size / 1024 / 1024)) MiB"
tar -C "$OUT" -cf - bin tests lib run-gpu-tests.sh | xz -6 -T"$(nproc)" > "$FINAL/payload.tar.xz"
cat > "$FINAL/unpack.sh" <<'UNPACK'
#!/usr/bin/env bash
# Unpacks payload.tar.xz (next to this script) into DIR unless it is there already for this
# payload, and prints DIR. The default is outside the bundle (under $TMPDIR), so that the folder that
# is carried to the device stays the small packed one.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
stamp=$(cksum < "$here/payload.tar.xz" | cut -d' ' -f1)
dir=${1:-${TMPDIR:-/tmp}/anvil-gpu-bundle-$stamp}
if [ ! -f "$dir/.payload-$stamp" ]; then
  rm -rf "$dir" && mkdir -p "$dir"
  if command -v xz >/dev/null 2>&1; then
    xz -dc "$here/payload.tar.xz" | tar -C "$dir" -xf -
  else
    python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1], "r:xz").extractall(sys.argv[2])' "$here/payload.tar.xz" "$dir"
  fi
  touch "$dir/.payload-$stamp"
fi
echo "$dir"
UNPACK
chmod +x "$FINAL/unpack.sh"

size=$(du -sb "$FINAL/payload.tar.xz" "$FINAL/unpack.sh" | awk '{s += $1} END {print s}')
{
  echo "anvil gpu bundle"
  echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) with $(nvcc --version | tail -1)"
  echo "code: sm_90a, sm_90, compute_90 PTX"
  echo "size: $size bytes packed, $unpacked_size unpacked"
  (cd "$OUT" && find bin tests lib -type f -printf '%s %p\n' | sort -k2)
} > "$FINAL/MANIFEST"
rm -rf "$OUT"
echo "== $FINAL: $((size / 1024 / 1024)) MiB packed (limit 48 MiB)"
if [ "$size" -gt "$LIMIT_BYTES" ]; then
  echo "gpu-bundle: $FINAL is $size bytes, over the 48 MiB limit" >&2
  exit 1
fi
