#!/usr/bin/env bash
# The README's first command: builds anvil if needed, prepares the built-in demo corpus (the
# `fortunes` package's cookie files: ~2.5 MB of English quips, quotes and verse), trains a BPE
# tokenizer and a ~1.4M-parameter GPT-2 (configs/tiny.yaml) on the CPU, and prints samples.
# Extra arguments are config overrides, e.g.  tools/demo.sh training.max_steps=100
# Re-running resumes from runs/tiny (delete it to train from scratch).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/cuda/bin"
BUILD_DIR=${BUILD_DIR:-build}
FORTUNES=/usr/share/games/fortunes

tools/install-deps.sh
if [ ! -x "$BUILD_DIR/bin/anvil" ] || [ -n "$(find core kernels optim data distributed train cli -newer "$BUILD_DIR/bin/anvil" -name '*.[ch]*' -print -quit)" ]; then
  echo "== building anvil"
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release ${ANVIL_CMAKE_ARGS:-} >/dev/null
  cmake --build "$BUILD_DIR" --target anvil -j "$(nproc)"
fi
ANVIL="$BUILD_DIR/bin/anvil"

if [ ! -f data/tiny/train_000000.bin ]; then
  echo "== preparing data/tiny from $FORTUNES"
  inputs=()
  for f in "$FORTUNES"/*; do
    case "$f" in *.dat|*.u8) continue ;; esac
    [ -f "$f" ] && inputs+=("$f")
  done
  "$ANVIL" prepare --input "${inputs[@]}" --format fortune --output data/tiny \
    --tokenizer data/tiny/tokenizer --train-tokenizer 4096 --val-fraction 0.02
fi

echo "== training configs/tiny.yaml on the CPU"
"$ANVIL" train configs/tiny.yaml "$@"

echo "== sampling from the trained model"
"$ANVIL" generate --checkpoint runs/tiny --prompt "The secret of life is" --max-new-tokens 48 \
  --temperature 0.8 --top-k 40 --seed 7
