// CUDA reductions over one dim of a contiguous f32 tensor viewed as (outer, n, inner).
// Deterministic: every output is reduced by a fixed thread layout in a fixed order, no atomics.
// Plain C++: pointers are device pointers, stream is a cudaStream_t as void* (nullptr = anvil's).
#pragma once

#include <cstdint>

#include "kernels/cpu/unary.h"

namespace anvil::kernels::cuda {

// out (outer, inner) = sum over k of in (outer, n, inner)[:, k, :], accumulated in double (`=`).
void sum_dim_f32(const float* in, int64_t outer, int64_t n, int64_t inner, float* out, void* stream);
// out (outer, inner) = max over k; argmax (outer, inner) = first index of the max (n >= 1)   (=).
void max_dim_f32(const float* in, int64_t outer, int64_t n, int64_t inner, float* out, int64_t* argmax,
                 void* stream);
// grad_in (outer, n, inner) = 0 except grad_in[o, argmax[o, i], i] = grad_out[o, i]   (=)
void max_dim_backward_f32(const float* grad_out, const int64_t* argmax, int64_t outer, int64_t n, int64_t inner,
                          float* grad_in, void* stream);

}  // namespace anvil::kernels::cuda
