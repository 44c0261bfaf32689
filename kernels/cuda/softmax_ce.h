// CUDA softmax over the last dim, and the fused softmax + cross-entropy over the vocabulary that
// writes dlogits in place of the logits (the (rows, vocab) probabilities never exist separately).
// Plain C++: pointers are device pointers, stream is a cudaStream_t as void* (nullptr = anvil's).
#pragma once

#include <cstdint>

#include "core/base/dtype.h"

namespace anvil::kernels::cuda {

// y = softmax(x) per row of a contiguous (rows, cols) tensor (y may equal x).
void softmax_forward(DType dtype, const void* x, void* y, int64_t rows, int64_t cols, void* stream);
// dx = y * (dy - sum(dy * y)) per row   (=; dx may equal dy)
void softmax_backward(DType dtype, const void* y, const void* dy, void* dx, int64_t rows, int64_t cols, void* stream);

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
void cross_entropy_fused(const CrossEntropyArgs& args);

}  // namespace anvil::kernels::cuda
