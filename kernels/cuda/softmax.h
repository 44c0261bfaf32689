// CUDA softmax over the last dim, forward and backward (the fused cross-entropy is in loss.h).
// Plain C++: pointers are device pointers, stream is a cudaStream_t as void* (nullptr = anvil's).
#pragma once

#include <cstdint>

#include "core/base/dtype.h"

namespace anvil::kernels::cuda {

// y = softmax(x) per row of a contiguous (rows, cols) tensor (=; y may equal x).
void softmax_forward(DType dtype, const void* x, void* y, int64_t rows, int64_t cols, void* stream);
// dx = y * (dy - sum(dy * y)) per row   (=; dx may equal dy)
void softmax_backward(DType dtype, const void* y, const void* dy, void* dx, int64_t rows, int64_t cols, void* stream);

}  // namespace anvil::kernels::cuda
