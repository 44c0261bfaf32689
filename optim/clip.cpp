// Global gradient-norm clipping: one pass for the sum of squares (double), one in-place scale.
//
// The sum of squares is ops::sum_squares (core/ops/optimizer.h: the CPU kernel, or per CUDA device
// the deterministic two-pass kernels with one host synchronization); the scale is ops::mul_, which
// handles any layout, dtype and device.
#include "optim/clip.h"

#include <cmath>

#include "core/ops/ops.h"
#include "core/ops/optimizer.h"

namespace anvil::optim {
namespace {
constexpr double kClipEpsilon = 1e-6;  // as torch: keeps the scaled norm just under max_norm
}  // namespace

double grad_global_norm(const std::vector<Tensor>& params) {
  std::vector<Tensor> grads;
  grads.reserve(params.size());
  for (const Tensor& p : params) {
    Tensor g = p.grad();
    if (g.defined()) grads.push_back(g);
  }
  return std::sqrt(ops::sum_squares(grads));
}

float clip_grad_norm(const std::vector<Tensor>& params, float max_norm) {
  const double norm = grad_global_norm(params);
  if (max_norm > 0.0f && std::isfinite(norm) && norm > double(max_norm)) {
    const float scale = float(double(max_norm) / (norm + kClipEpsilon));
    for (const Tensor& p : params) {
      Tensor g = p.grad();
      if (g.defined()) ops::mul_(g, scale);
    }
  }
  return float(norm);
}

}  // namespace anvil::optim
