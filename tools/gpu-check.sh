#!/usr/bin/env bash
# GPU check: runs every gpu test (CUDA kernels against the CPU references), the benchmarks and
# `anvil bench` on this machine's GPU, then prints a summary (and writes $OUT/gpu-check.json when
# $OUT is set, as on the lent device machine).
#   tools/gpu-check.sh --bundle DIR     run what tools/gpu-bundle.sh built, building nothing (falls
#                                       back to a build when the bundle's anvil cannot start here)
#   tools/gpu-check.sh [build-dir]      configure and build a CUDA build first (default build-gpu;
#                                       CUDA_ARCH=NN overrides the detected architecture)
# It is a check of a GPU: on a machine where no GPU can be used it fails at once, and it fails when
# every gpu test skipped, when any test failed, or when a benchmark failed.
set -uo pipefail
cd "$(dirname "$0")/.."
BUNDLE=""
BUILD_DIR=build-gpu
while [ $# -gt 0 ]; do
  case "$1" in
    --bundle) BUNDLE=$2; shift 2 ;;
    *) BUILD_DIR=$1; shift ;;
  esac
done
export PATH="$PATH:/usr/local/cuda/bin"

gpu_name="none"
arch=${CUDA_ARCH:-}
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then
  gpu_name=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
  cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d ' .')
  arch=${arch:-$cap}
else
  echo "gpu-check: FAILED: no usable GPU (nvidia-smi is missing or cannot talk to the driver);" \
       "a GPU check where the GPU cannot be used must not pass" >&2
  exit 2
fi
arch=${arch:-90}
nvidia-smi --query-gpu=name,compute_cap,memory.total,driver_version --format=csv

mode="build"
build_s=0
if [ -n "$BUNDLE" ]; then
  BUNDLE_FILES="$BUNDLE"
  if [ -f "$BUNDLE/payload.tar.xz" ]; then
    BUNDLE=$("$BUNDLE/unpack.sh") || { echo "gpu-check: cannot unpack $BUNDLE_FILES/payload.tar.xz" >&2; exit 1; }
  fi
  if "$BUNDLE/bin/anvil" --version >/dev/null 2>&1; then
    mode="bundle"
    ANVIL="$BUNDLE/bin/anvil"
    echo "== bundle $BUNDLE_FILES"; head -5 "$BUNDLE_FILES/MANIFEST" 2>/dev/null
  else
    echo "gpu-check: the bundle's anvil cannot start here; falling back to a build:" >&2
    "$BUNDLE/bin/anvil" --version 2>&1 | head -5 >&2
  fi
fi

if [ "$mode" = build ]; then
  echo "== configure ($BUILD_DIR, CUDA arch $arch, GPU: $gpu_name)"
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DANVIL_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES="$arch" || exit 1
  echo "== build"
  build_start=$(date +%s)
  cmake --build "$BUILD_DIR" -j "$(nproc)" || exit 1
  build_s=$(( $(date +%s) - build_start ))
  ANVIL="$BUILD_DIR/bin/anvil"
fi

echo "== gpu tests"
if [ "$mode" = bundle ]; then
  test_log=$(mktemp)
  "$BUNDLE/run-gpu-tests.sh" --source "$PWD" 2>&1 | tee "$test_log"
  test_rc=${PIPESTATUS[0]}
  summary=$(grep -E '^gpu tests: ' "$test_log" | tail -1)
  passed=$(sed -E 's/^gpu tests: ([0-9]+) passed.*/\1/' <<<"$summary"); passed=${passed:-0}
  skipped=$(sed -E 's/.* ([0-9]+) skipped.*/\1/' <<<"$summary"); skipped=${skipped:-0}
  failed=$(sed -E 's/.* ([0-9]+) binaries failed.*/\1/' <<<"$summary"); failed=${failed:-0}
else
  test_log="$BUILD_DIR/gpu-check-tests.log"
  ( cd "$BUILD_DIR" && ctest -L gpu --output-on-failure --timeout 900 ) 2>&1 | tee "$test_log"
  test_rc=${PIPESTATUS[0]}
  # One line per test ("N/M Test #K: name ... Passed|***Failed|***Skipped"); ctest's closing list
  # repeats the skipped and failed ones, so count the per-test lines only.
  passed=$(grep -cE "^ *[0-9]+/[0-9]+ Test +#[0-9]+: .* Passed" "$test_log" || true)
  failed=$(grep -cE "^ *[0-9]+/[0-9]+ Test +#[0-9]+: .*\*\*\*(Failed|Exception|Timeout)" "$test_log" || true)
  skipped=$(grep -cE "^ *[0-9]+/[0-9]+ Test +#[0-9]+: .*\*\*\*Skipped" "$test_log" || true)
fi

# compute-sanitizer on the kernel tests (tests/kernels: small shapes): memcheck (out-of-bounds and
# misaligned accesses) and racecheck (shared-memory hazards). SANITIZE=0 skips it; a binary that
# runs past SANITIZE_TIMEOUT seconds (default 30) is reported, not failed (the tools slow kernels
# down a lot), and runs stop once SANITIZE_BUDGET seconds (default 240) are spent, so the whole
# check fits a short GPU window.
sanitizer_status="skipped"
sanitizer_findings=0
if [ "${SANITIZE:-1}" != 0 ] && command -v compute-sanitizer >/dev/null 2>&1; then
  echo "== compute-sanitizer"
  sanitizer_status="ok"
  test_dir="$BUILD_DIR/tests"
  [ "$mode" = bundle ] && test_dir="$BUNDLE/tests"
  export ANVIL_SOURCE_DIR="$PWD" ANVIL_SHARED_DIR="$PWD/tests/fixtures" ANVIL_BINARY="$ANVIL"
  sanitize_start=$(date +%s)
  for src in tests/kernels/*_gpu_test.cpp; do
    t="$test_dir/$(basename "$src" .cpp)"
    [ -x "$t" ] || continue
    for tool in memcheck racecheck; do
      if [ $(( $(date +%s) - sanitize_start )) -gt "${SANITIZE_BUDGET:-240}" ]; then
        echo "skip $tool $(basename "$t") (SANITIZE_BUDGET spent)"; sanitizer_status="partial (budget)"; continue
      fi
      log=$(mktemp)
      timeout "${SANITIZE_TIMEOUT:-30}" compute-sanitizer --tool "$tool" --error-exitcode 97 "$t" >"$log" 2>&1
      rc=$?
      case "$rc" in
        0) echo "ok   $tool $(basename "$t")" ;;
        124) echo "slow $tool $(basename "$t") (over ${SANITIZE_TIMEOUT:-30}s, not judged)" ;;
        *) echo "FAIL $tool $(basename "$t") (exit $rc)"; grep -E "=========|FAILED" "$log" | head -20
           sanitizer_findings=$((sanitizer_findings + 1)); sanitizer_status="findings" ;;
      esac
      rm -f "$log"
    done
  done
fi

bench_status="none built"
benches=""
# (kernels_bench runs below, beside its PyTorch peers)
[ "$mode" = build ] && benches=$(ls "$BUILD_DIR"/bin/*_bench 2>/dev/null | grep -v '/kernels_bench$' || true)
if [ -n "$benches" ]; then
  echo "== benchmarks"
  bench_status="ok"
  for b in $benches; do
    echo "-- $b"
    "$b" || bench_status="failed ($(basename "$b"))"
  done
fi

# Training-step benchmarks on the GPU (fp32 through the ops' CUDA kernels; bf16 is not wired yet).
echo "== anvil bench"
anvil_bench_status="ok"
bench_json=()
for args in "configs/tiny.yaml run.device=cuda --steps 20" \
            "configs/gpt2-124m.yaml run.device=cuda training.precision=fp32 training.micro_batch_size=4 training.global_batch_tokens=4096 --steps 5 --peak-tflops 67"; do
  echo "-- anvil bench $args"
  # shellcheck disable=SC2086
  if out=$(timeout 600 "$ANVIL" bench $args --json); then
    echo "$out"
    bench_json+=("$(grep '^{' <<<"$out" | tail -1)")
  else
    echo "$out"
    anvil_bench_status="failed ($args)"
  fi
done

# Per-kernel speed against PyTorch's kernels (cuBLAS GEMM, SDPA flash attention) on the same
# shapes (GPT-2 124M, 8 x 1024 tokens): bench/kernels_bench and tools/torch_kernel_peers.py.
kernels_bench="$BUILD_DIR/bin/kernels_bench"
[ "$mode" = bundle ] && kernels_bench="$BUNDLE/bin/kernels_bench"
kernel_status="not built"
kernel_rows="[]"
if [ -x "$kernels_bench" ]; then
  echo "== kernels against PyTorch (cuBLAS, SDPA)"
  if kout=$(timeout 300 "$kernels_bench"); then
    kernel_status="ok"
    peers=""
    if python3 -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then
      peers=$(timeout 300 python3 tools/torch_kernel_peers.py <<<"$kout") || kernel_status="ok (PyTorch peers failed)"
    else
      kernel_status="ok (no PyTorch with CUDA here: no peers)"
    fi
    kernel_rows=$(python3 - "$kout" "$peers" <<'PY'
import json, sys
ours = [json.loads(l) for l in sys.argv[1].splitlines() if l.startswith("{")]
peer = {p["kernel"]: p for p in (json.loads(l) for l in sys.argv[2].splitlines() if l.startswith("{"))}
rows = []
print(f"{'kernel':<58} {'anvil TF/s':>10} {'torch TF/s':>10} {'ratio':>6}", file=sys.stderr)
for o in ours:
    p = peer.get(o["kernel"], {})
    row = dict(o, **p)
    if p.get("torch_tflops"):
        row["ratio"] = round(o["tflops"] / p["torch_tflops"], 3)
    rows.append(row)
    print(f"{o['kernel']:<58} {o['tflops']:>10.1f} {p.get('torch_tflops', float('nan')):>10.1f} {row.get('ratio', float('nan')):>6.2f}",
          file=sys.stderr)
print(json.dumps(rows))
PY
) || kernel_rows="[]"
  else
    kernel_status="failed"
  fi
fi

verdict="ok"
rc=0
if [ "$test_rc" -ne 0 ] || [ "$failed" -gt 0 ]; then verdict="FAILED: gpu tests failed"; rc=1
elif [ "$passed" -eq 0 ]; then verdict="FAILED: no gpu test ran (all $skipped skipped: the GPU could not be used)"; rc=1
elif [ "$bench_status" != "ok" ] && [ "$bench_status" != "none built" ]; then verdict="FAILED: benchmark $bench_status"; rc=1
elif [ "$anvil_bench_status" != "ok" ]; then verdict="FAILED: anvil bench $anvil_bench_status"; rc=1
elif [ "$kernel_status" = failed ]; then verdict="FAILED: kernels_bench"; rc=1
elif [ "$sanitizer_findings" -gt 0 ]; then verdict="FAILED: compute-sanitizer found problems in $sanitizer_findings run(s)"; rc=1
fi
echo
echo "================ gpu-check summary ================"
printf "%-14s %s\n" "GPU" "$gpu_name"
printf "%-14s %s\n" "CUDA arch" "$arch"
printf "%-14s %s\n" "binaries" "$mode$([ "$mode" = build ] && echo " ($build_s s)")"
printf "%-14s %s passed, %s failed, %s skipped\n" "gpu tests" "$passed" "$failed" "$skipped"
printf "%-14s %s\n" "benchmarks" "$bench_status"
printf "%-14s %s\n" "anvil bench" "$anvil_bench_status"
printf "%-14s %s\n" "kernels" "$kernel_status"
printf "%-14s %s\n" "sanitizer" "$sanitizer_status"
printf "%-14s %s\n" "verdict" "$verdict"
echo "==================================================="
if [ -n "${OUT:-}" ] && [ -d "$OUT" ]; then
  benches_json=$(IFS=,; echo "${bench_json[*]:-}")
  printf '{"gpu": "%s", "arch": "%s", "mode": "%s", "tests_passed": %s, "tests_failed": %s, "tests_skipped": %s, "anvil_bench": [%s], "kernels": %s, "sanitizer": "%s", "verdict": "%s"}\n' \
    "$gpu_name" "$arch" "$mode" "$passed" "$failed" "$skipped" "$benches_json" "$kernel_rows" "$sanitizer_status" "$verdict" > "$OUT/gpu-check.json"
  cp "$test_log" "$OUT/gpu-check-tests.log" 2>/dev/null || true
fi
exit "$rc"
