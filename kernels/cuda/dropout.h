// CUDA dropout with the counter-based Philox stream, so CPU and CUDA drop the same elements:
// element i is dropped iff Philox4x32::uniform(seed, offset + i) < p; kept ones are scaled by
// 1 / (1 - p). The backward regenerates the mask from (seed, offset): nothing is stored.
// Plain C++: pointers are device pointers, stream is a cudaStream_t as void* (nullptr = anvil's).
#pragma once

#include <cstdint>

#include "core/base/dtype.h"

namespace anvil::kernels::cuda {

// y = dropout(x) (=); y may equal x. mask (n bytes, 1 = kept; =) is optional (null to skip).
void dropout_forward(DType dtype, const void* x, void* y, uint8_t* mask, int64_t n, float p, uint64_t seed,
                     uint64_t offset, void* stream);
// dx = dy * keep / (1 - p) with the same (seed, offset) as the forward   (=)
void dropout_backward(DType dtype, const void* dy, void* dx, int64_t n, float p, uint64_t seed, uint64_t offset,
                      void* stream);

}  // namespace anvil::kernels::cuda
