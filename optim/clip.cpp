// Global gradient-norm clipping: one pass for the sum of squares (double), one in-place scale.
//
// Gradients that are not contiguous f32 are summed through a contiguous f32 copy and scaled with
// ops::mul_, which handles any layout and dtype; the common case runs the raw kernels directly.
#include "optim/clip.h"

#include <cmath>

#include "core/ops/ops.h"
#include "optim/update_kernels.h"

namespace anvil::optim {
namespace {
constexpr double kClipEpsilon = 1e-6;  // as torch: keeps the scaled norm just under max_norm
}  // namespace

double grad_global_norm(const std::vector<Tensor>& params) {
  double sum_squares = 0.0;
  for (const Tensor& p : params) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    ANVIL_CHECK_OP(g.device().is_cpu(), "[clip_grad_norm] no norm kernel for gradients on ", g.device().str(),
                   " yet ('", p.name(), "')");
    if (g.dtype() != DType::F32) g = g.to(DType::F32);
    g = g.contiguous();
    sum_squares += sum_squares_f32(g.data<float>(), g.numel());
  }
  return std::sqrt(sum_squares);
}

float clip_grad_norm(const std::vector<Tensor>& params, float max_norm) {
  const double norm = grad_global_norm(params);
  if (max_norm > 0.0f && std::isfinite(norm) && norm > double(max_norm)) {
    const float scale = float(double(max_norm) / (norm + kClipEpsilon));
    for (const Tensor& p : params) {
      Tensor g = p.grad();
      if (!g.defined()) continue;
      if (g.dtype() == DType::F32 && g.is_contiguous() && g.device().is_cpu())
        scale_inplace_f32(g.data<float>(), g.numel(), scale);
      else
        ops::mul_(g, scale);
    }
  }
  return float(norm);
}

}  // namespace anvil::optim
