// Reductions over one dimension of a contiguous f32 tensor viewed as (outer, n, inner).
#pragma once

#include <cstdint>

namespace anvil::kernels::cpu {

// out (outer, inner) = sum over k of in (outer, n, inner)[:, k, :]; accumulates in double (=).
void sum_dim_f32(const float* in, int64_t outer, int64_t n, int64_t inner, float* out);
// out (outer, inner) = max over k; argmax (outer, inner) = first index of the max   (=).
void max_dim_f32(const float* in, int64_t outer, int64_t n, int64_t inner, float* out, int64_t* argmax);
// grad_in (outer, n, inner) = 0 except grad_in[o, argmax[o, i], i] = grad_out[o, i]   (=)
void max_dim_backward_f32(const float* grad_out, const int64_t* argmax, int64_t outer, int64_t n, int64_t inner,
                          float* grad_in);

}  // namespace anvil::kernels::cpu
