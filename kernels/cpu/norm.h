// CPU LayerNorm (GPT-2) and RMSNorm (Llama) over the last dim of a contiguous f32 tensor viewed as
// rows (N, C), forward and backward.
//
// The forward saves per-row statistics (mean and rstd = 1/sqrt(var + eps) for LayerNorm, rstd =
// 1/sqrt(mean(x^2) + eps) for RMSNorm) so the backward never recomputes a reduction over x. Row
// statistics are accumulated in double, then used in f32. Convention, as on CUDA: outputs, statistics and dx
// are written with `=`; the weight/bias gradients accumulate (`+=`, so the caller zeroes them),
// column sums done in a second pass over column chunks, so threads never share an accumulator.
#pragma once

#include <cstdint>

namespace anvil::kernels::cpu {

// out (N, C) = (x - mean) * rstd * weight + bias (=); weight and/or bias may be null (1 and 0).
// mean (N), rstd (N) receive the row statistics (=).
void layer_norm_forward_f32(const float* x, const float* weight, const float* bias, int64_t N, int64_t C, float eps,
                            float* out, float* mean, float* rstd);
// dx (N, C) (=); dweight (C) and dbias (C) (+=) may be null when not wanted (or when weight is null).
void layer_norm_backward_f32(const float* grad_out, const float* x, const float* weight, const float* mean,
                             const float* rstd, int64_t N, int64_t C, float* dx, float* dweight, float* dbias);

// out (N, C) = x * rstd * weight (=); weight may be null. rstd (N) = 1/sqrt(mean(x^2) + eps) (=).
void rms_norm_forward_f32(const float* x, const float* weight, int64_t N, int64_t C, float eps, float* out,
                          float* rstd);
// dx (N, C) (=) and dweight (C) (+=), each may be null when not wanted.
void rms_norm_backward_f32(const float* grad_out, const float* x, const float* weight, const float* rstd, int64_t N,
                           int64_t C, float* dx, float* dweight);

}  // namespace anvil::kernels::cpu
