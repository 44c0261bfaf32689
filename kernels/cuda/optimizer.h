// CUDA optimizer kernels: fused AdamW and SGD over fp32 master parameters, and the deterministic
// sum of squares behind the global gradient norm; kernels/cpu/optimizer.h holds the CPU ones, and
// core/ops/optimizer.h picks between them by the parameter's device.
// Plain C++: pointers are device pointers, stream is a cudaStream_t as void* (nullptr = anvil's).
#pragma once

#include <cstdint>

#include "core/base/dtype.h"

namespace anvil::kernels::cuda {

// One AdamW step (decoupled weight decay, as torch.optim.AdamW):
//   g = grads * grad_scale * (*grad_scale_device if given)
//   p -= lr * weight_decay * p; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2
//   p -= lr * (m / (1 - b1^step)) / (sqrt(v / (1 - b2^step)) + eps)
// and, when param_copy is set, param_copy = p rounded to copy_dtype (the bf16 weights the model
// computes with, =). params, m, v are updated in place.
struct AdamWArgs {
  float* params = nullptr;
  const void* grads = nullptr;
  DType grad_dtype = DType::F32;
  float* m = nullptr;
  float* v = nullptr;
  void* param_copy = nullptr;
  DType copy_dtype = DType::BF16;
  int64_t n = 0;
  float lr = 1e-3f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f, weight_decay = 0.0f;
  int64_t step = 1;  // 1-based, for the bias corrections
  float grad_scale = 1.0f;
  const float* grad_scale_device = nullptr;  // e.g. the clip coefficient from grad_norm_finish
  void* stream = nullptr;
};
void adamw_step(const AdamWArgs& args);  // params, m, v updated in place; param_copy (=)

// One SGD step over fp32 parameters with torch.optim.SGD semantics (coupled L2 decay, dampening 0),
// the same order of operations as kernels/cpu/optimizer.h's sgd_step_f32:
//   g = grads + weight_decay * p; buf = momentum * buf + g (buf starts at zero);
//   p -= lr * (nesterov ? g + momentum * buf : buf). momentum_buf may be null when momentum == 0.
// params and momentum_buf are updated in place.
void sgd_step(float* params, const float* grads, float* momentum_buf, int64_t n, float lr, float momentum,
              float weight_decay, bool nesterov, void* stream);

// Global L2 norm of many gradient tensors, deterministic (fixed reduction order, no atomics):
//   pass 1, per tensor t: grad_sumsq_partials(..., partials + t * grad_norm_partials_per_tensor())
//   pass 2, once:         grad_norm_finish(partials, num_tensors * grad_norm_partials_per_tensor(), ...)
int64_t grad_norm_partials_per_tensor();  // returns the partial count; writes nothing
// Writes grad_norm_partials_per_tensor() partial sums of squares of g (n elements) with `=`.
void grad_sumsq_partials(DType dtype, const void* g, int64_t n, float* partials, void* stream);
// norm_out[0] = sqrt(sum of partials) (summed in double; =). When clip_scale_out is set it receives
// min(1, max_norm / (norm + 1e-6)) (1 when max_norm <= 0), ready for AdamWArgs::grad_scale_device.
void grad_norm_finish(const float* partials, int64_t count, float* norm_out, float max_norm, float* clip_scale_out,
                      void* stream);

}  // namespace anvil::kernels::cuda
