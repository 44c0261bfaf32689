// Optimizer updates and the gradient sum of squares on Tensors: the dispatch between the CPU
// kernels (kernels/cpu/optimizer.h) and the CUDA ones (kernels/cuda/optimizer.h) by the tensors'
// device, so that optim/ and distributed/ never include kernels/. Not differentiable: they run on
// parameters, gradients and optimizer state outside the graph.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor/tensor.h"

namespace anvil::ops {

struct AdamWHyper {
  float lr = 1e-3f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f, weight_decay = 0.0f;
  int64_t step = 1;  // 1-based, for the bias corrections
  // CUDA only, optional: a 1-element f32 tensor on the parameter's device that multiplies the
  // gradient inside the update (the clip coefficient of grad_norm_on_device), so clipping needs no
  // pass of its own and no host read.
  Tensor grad_scale = Tensor();
};

// One AdamW step (decoupled weight decay, torch.optim.AdamW's order; kernels/cpu/optimizer.h has the
// math) on param, m and v in place. All four are contiguous f32 tensors of one numel on one device.
void adamw_step_(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamWHyper& h);

// One SGD step (torch.optim.SGD: coupled L2 decay, dampening 0, optional Nesterov) on param and
// momentum_buf in place; momentum_buf may be null when momentum == 0. Contiguous f32, one device.
void sgd_step_(Tensor& param, const Tensor& grad, Tensor* momentum_buf, float lr, float momentum, float weight_decay,
               bool nesterov);

// sum over all tensors of sum(x^2), in double: CPU tensors by the OpenMP kernel, CUDA tensors per
// device by the deterministic two-pass kernels (one host synchronization per device). Any floating
// dtype and layout (non-contiguous or non-f32 tensors go through a contiguous copy).
double sum_squares(const std::vector<Tensor>& tensors);
// The global L2 norm of CUDA tensors on one device, left on the device: returns a 1-element f32
// tensor with the norm and sets *clip_scale to min(1, max_norm / (norm + 1e-6)) (1 when max_norm
// <= 0), for AdamWHyper::grad_scale. Same kernels and order as sum_squares; nothing waits for them.
Tensor grad_norm_on_device(const std::vector<Tensor>& tensors, float max_norm, Tensor* clip_scale);

}  // namespace anvil::ops
