// Global gradient-norm clipping: one pass for the sum of squares (double), one in-place scale.
//
// Gradients that are not contiguous f32 are summed through a contiguous f32 copy and scaled with
// ops::mul_, which handles any layout and dtype; the common case runs the raw kernels directly.
// CUDA gradients are summed per device by the deterministic two-pass kernels of
// kernels/cuda/adamw.h (one host synchronization per device) and scaled with ops::mul_.
#include "optim/clip.h"

#include <algorithm>
#include <cmath>

#include "core/ops/ops.h"
#include "kernels/cuda/adamw.h"
#include "kernels/cuda/stream.h"
#include "optim/update_kernels.h"

namespace anvil::optim {
namespace {
constexpr double kClipEpsilon = 1e-6;  // as torch: keeps the scaled norm just under max_norm

// Sum of squares of the CUDA gradients of one device, by the deterministic two-pass kernels of
// kernels/cuda/adamw.h; the norm comes back to the host once (one synchronization).
double cuda_sum_squares(const std::vector<Tensor>& grads, Device device) {
  if (grads.empty()) return 0.0;
  const int64_t per = kernels::cuda::grad_norm_partials_per_tensor();
  Tensor partials = Tensor::empty({int64_t(grads.size()) * per}, DType::F32, device);
  Tensor norm = Tensor::empty({1}, DType::F32, device);
  void* stream = kernels::cuda::default_stream(device.index);
  for (size_t t = 0; t < grads.size(); ++t)
    kernels::cuda::grad_sumsq_partials(grads[t].dtype(), grads[t].data_ptr(), grads[t].numel(),
                                       partials.data<float>() + int64_t(t) * per, stream);
  kernels::cuda::grad_norm_finish(partials.data<float>(), partials.numel(), norm.data<float>(), 0.0f, nullptr, stream);
  const double n = double(norm.item());
  return n * n;
}
}  // namespace

double grad_global_norm(const std::vector<Tensor>& params) {
  double sum_squares = 0.0;
  std::vector<std::pair<Device, std::vector<Tensor>>> cuda_grads;  // per CUDA device, in parameter order
  for (const Tensor& p : params) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    if (g.device().is_cuda()) {
      if (!is_floating(g.dtype())) g = g.to(DType::F32);
      g = g.contiguous();
      auto it = std::find_if(cuda_grads.begin(), cuda_grads.end(), [&](const auto& e) { return e.first == g.device(); });
      if (it == cuda_grads.end()) {
        cuda_grads.push_back({g.device(), {}});
        it = cuda_grads.end() - 1;
      }
      it->second.push_back(g);
      continue;
    }
    if (g.dtype() != DType::F32) g = g.to(DType::F32);
    g = g.contiguous();
    sum_squares += sum_squares_f32(g.data<float>(), g.numel());
  }
  for (const auto& [device, grads] : cuda_grads) sum_squares += cuda_sum_squares(grads, device);
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
