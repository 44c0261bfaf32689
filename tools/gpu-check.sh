#!/usr/bin/env bash
# GPU check: configure a CUDA build for the GPU this machine has, build, run every `gpu`-labelled
# test (CUDA kernels against the CPU references) and the benchmarks if any, then print a summary.
#   tools/gpu-check.sh [build-dir]      (default build-gpu; CUDA_ARCH=NN overrides the detection)
# It is a check of a GPU: on a machine where no GPU can be used it fails at once, and it fails when
# every gpu test skipped, when any test failed, or when a benchmark failed.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-build-gpu}
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

echo "== configure ($BUILD_DIR, CUDA arch $arch, GPU: $gpu_name)"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DANVIL_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES="$arch" || exit 1

echo "== build"
build_start=$(date +%s)
cmake --build "$BUILD_DIR" -j "$(nproc)" || exit 1
build_s=$(( $(date +%s) - build_start ))

echo "== gpu tests"
test_log="$BUILD_DIR/gpu-check-tests.log"
( cd "$BUILD_DIR" && ctest -L gpu --output-on-failure --timeout 900 ) 2>&1 | tee "$test_log"
test_rc=${PIPESTATUS[0]}

bench_status="none built"
bench_dir="$BUILD_DIR/bin"
benches=$(ls "$bench_dir"/*_bench 2>/dev/null || true)
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
for args in "configs/tiny.yaml run.device=cuda --steps 20" \
            "configs/gpt2-124m.yaml run.device=cuda training.precision=fp32 training.micro_batch_size=4 training.global_batch_tokens=4096 --steps 5 --peak-tflops 67"; do
  echo "-- anvil bench $args"
  # shellcheck disable=SC2086
  timeout 600 "$BUILD_DIR/bin/anvil" bench $args || anvil_bench_status="failed ($args)"
done

# One line per test ("N/M Test #K: name ... Passed|***Failed|***Skipped"); ctest's closing list
# repeats the skipped and failed ones, so count the per-test lines only.
passed=$(grep -cE "^ *[0-9]+/[0-9]+ Test +#[0-9]+: .* Passed" "$test_log" || true)
failed=$(grep -cE "^ *[0-9]+/[0-9]+ Test +#[0-9]+: .*\*\*\*(Failed|Exception|Timeout)" "$test_log" || true)
skipped=$(grep -cE "^ *[0-9]+/[0-9]+ Test +#[0-9]+: .*\*\*\*Skipped" "$test_log" || true)
verdict="ok"
rc=0
if [ "$test_rc" -ne 0 ] || [ "$failed" -gt 0 ]; then verdict="FAILED: gpu tests failed"; rc=1
elif [ "$passed" -eq 0 ]; then verdict="FAILED: no gpu test ran (all $skipped skipped: the GPU could not be used)"; rc=1
elif [ "$bench_status" != "ok" ] && [ "$bench_status" != "none built" ]; then verdict="FAILED: benchmark $bench_status"; rc=1
elif [ "$anvil_bench_status" != "ok" ]; then verdict="FAILED: anvil bench $anvil_bench_status"; rc=1
fi
echo
echo "================ gpu-check summary ================"
printf "%-14s %s\n" "GPU" "$gpu_name"
printf "%-14s %s\n" "CUDA arch" "$arch"
printf "%-14s %s s\n" "build" "$build_s"
printf "%-14s %s passed, %s failed, %s skipped\n" "gpu tests" "$passed" "$failed" "$skipped"
printf "%-14s %s\n" "benchmarks" "$bench_status"
printf "%-14s %s\n" "anvil bench" "$anvil_bench_status"
printf "%-14s %s\n" "verdict" "$verdict"
echo "==================================================="
exit "$rc"
