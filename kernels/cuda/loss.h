// CUDA fused softmax + cross-entropy over the vocabulary that writes dlogits in place of the logits
// (the (rows, vocab) probabilities never exist separately). The CPU kernels are kernels/cpu/loss.h.
// Plain C++: pointers are device pointers, stream is a cudaStream_t as void* (nullptr = anvil's).
#pragma once

#include <cstdint>

#include "core/base/dtype.h"

namespace anvil::kernels::cuda {

struct CrossEntropyArgs {
  DType dtype = DType::BF16;
  void* logits = nullptr;          // (rows, ld); the first `vocab` columns are real
  int64_t rows = 0, vocab = 0, ld = 0;
  const int64_t* targets = nullptr;  // (rows)
  int64_t ignore_index = -100;       // rows with this target: loss 0, dlogits 0
  float* losses = nullptr;           // (rows) f32: logsumexp(row) - row[target]; NaN if target out of range
  // When write_dlogits, logits[r, :] is overwritten with
  //   dloss_scale * (dloss_per_row ? dloss_per_row[r] : 1) * (softmax(row) - onehot(target)),
  // and padded columns vocab..ld-1 with 0 (`=`: it replaces the logits).
  bool write_dlogits = true;
  float dloss_scale = 1.0f;               // e.g. 1 / number of non-ignored targets
  const float* dloss_per_row = nullptr;   // optional (rows) f32 upstream gradient
  void* stream = nullptr;
};
// losses (=) and, when write_dlogits, dlogits in place of the logits (=).
void cross_entropy_fused(const CrossEntropyArgs& args);

}  // namespace anvil::kernels::cuda
