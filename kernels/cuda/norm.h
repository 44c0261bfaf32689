// CUDA LayerNorm and RMSNorm over the last dim of a (rows, cols) contiguous tensor, forward and
// backward (kernels/cpu/norm.h is the CPU side, with the same output contract).
// Activations and weights share `dtype` (f32, bf16 or f16); statistics and parameter gradients
// are f32. Gradient convention: dx is written with `=` (or `+=` when accumulate_dx, to add into a
// residual-stream gradient); dweight and dbias always accumulate with `+=`.
// Plain C++: pointers are device pointers, stream is a cudaStream_t as void* (nullptr = anvil's).
#pragma once

#include <cstdint>

#include "core/base/dtype.h"

namespace anvil::kernels::cuda {

// y = (x - mean) * rstd * weight + bias (=); mean, rstd (rows) saved (=). bias may be null.
void layernorm_forward(DType dtype, const void* x, const void* weight, const void* bias, void* y, float* mean,
                       float* rstd, int64_t rows, int64_t cols, float eps, void* stream);
// dx (=, or += with accumulate_dx); dweight/dbias (cols, f32, +=) may be null to skip them; dbias
// is null for a bias-free norm.
void layernorm_backward(DType dtype, const void* dy, const void* x, const void* weight, const float* mean,
                        const float* rstd, void* dx, float* dweight, float* dbias, int64_t rows, int64_t cols,
                        bool accumulate_dx, void* stream);

// y = x * rstd * weight (=), rstd = 1 / sqrt(mean(x^2) + eps) saved (=).
void rmsnorm_forward(DType dtype, const void* x, const void* weight, void* y, float* rstd, int64_t rows, int64_t cols,
                     float eps, void* stream);
// dx (=, or += with accumulate_dx); dweight (cols, f32, +=) may be null to skip it.
void rmsnorm_backward(DType dtype, const void* dy, const void* x, const void* weight, const float* rstd, void* dx,
                      float* dweight, int64_t rows, int64_t cols, bool accumulate_dx, void* stream);

}  // namespace anvil::kernels::cuda
