// CPU optimizer kernels on raw f32 pointers: AdamW, SGD with momentum, and the sum of squares that
// gradient clipping needs; kernels/cuda/optimizer.h holds the CUDA ones, core/ops/optimizer.h picks
// between them by the parameter's device.
//
// These are the CPU reference kernels (OpenMP over elements). They take plain pointers and sizes,
// never a Tensor, and never allocate. Hyperparameters that depend only on the step (the bias
// corrections) are computed once on the host in double and passed in, which keeps the per-element
// work to a handful of multiply-adds and one sqrt.
#pragma once

#include <cstdint>

namespace anvil::kernels::cpu {

// AdamW with decoupled weight decay, PyTorch's order of operations, for one tensor of n elements:
//   p <- p * (1 - lr * weight_decay)
//   m <- beta1 * m + (1 - beta1) * g
//   v <- beta2 * v + (1 - beta2) * g^2
//   p <- p - (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps)
// where bc1 = 1 - beta1^step and bc2 = 1 - beta2^step; step counts from 1 (the first update).
// Updates param, m and v in place.
void adamw_step_f32(float* param, const float* grad, float* m, float* v, int64_t n, float lr, float beta1,
                    float beta2, float eps, float weight_decay, int64_t step);

// SGD with PyTorch semantics (coupled L2 weight decay, dampening 0):
//   g <- g + weight_decay * p
//   buf <- momentum * buf + g                 (buf starts at zero, so the first buf is g)
//   p <- p - lr * (nesterov ? g + momentum * buf : buf)
// With momentum == 0, momentum_buf may be null and the update is p <- p - lr * g. Updates param and
// momentum_buf in place.
void sgd_step_f32(float* param, const float* grad, float* momentum_buf, int64_t n, float lr, float momentum,
                  float weight_decay, bool nesterov);

// Returns sum(x[i]^2), accumulated in double (per thread, then combined); writes nothing.
double sum_squares_f32(const float* x, int64_t n);

}  // namespace anvil::kernels::cpu
