#!/usr/bin/env bash
# GPU check: configure a CUDA build for the GPU this machine has, build, run every `gpu`-labelled
# test (CUDA kernels against the CPU references) and the benchmarks if any, then print a summary.
#   tools/gpu-check.sh [build-dir]      (default build-gpu; CUDA_ARCH=NN overrides the detection)
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

passed=$(grep -c "Passed" "$test_log" || true)
failed=$(grep -cE "\*\*\*Failed|\*\*\*Exception|\*\*\*Timeout" "$test_log" || true)
skipped=$(grep -c "Skipped" "$test_log" || true)
echo
echo "================ gpu-check summary ================"
printf "%-14s %s\n" "GPU" "$gpu_name"
printf "%-14s %s\n" "CUDA arch" "$arch"
printf "%-14s %s s\n" "build" "$build_s"
printf "%-14s %s passed, %s failed, %s skipped\n" "gpu tests" "$passed" "$failed" "$skipped"
printf "%-14s %s\n" "benchmarks" "$bench_status"
printf "%-14s %s\n" "anvil bench" "$anvil_bench_status"
echo "==================================================="
exit "$test_rc"
