// Softmax and log-softmax over the middle dim of a contiguous f32 tensor viewed as
// (outer, n, inner): forward and backward. The softmax dim is n; inner == 1 is the last-dim fast
// path (each row contiguous).
#pragma once

#include <cstdint>

namespace anvil::kernels::cpu {

// out (outer, n, inner) = softmax or log_softmax of in over n; subtracts the max first, so large
// logits do not overflow   (=).
void softmax_forward_f32(const float* in, float* out, int64_t outer, int64_t n, int64_t inner, bool log);

// From the forward output y and grad_out g (grad_in written with `=`):
//   softmax:     grad_in = y * (g - sum_n(g * y))
//   log_softmax: grad_in = g - exp(y) * sum_n(g)
void softmax_backward_f32(const float* y, const float* grad_out, float* grad_in, int64_t outer, int64_t n,
                          int64_t inner, bool log);

}  // namespace anvil::kernels::cpu
