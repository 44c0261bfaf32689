// The optimizer dispatch of core/ops/optimizer.h: checks, then the CPU or the CUDA kernel.
#include "core/ops/optimizer.h"

#include <algorithm>
#include <utility>

#include "core/ops/op_utils.h"
#include "kernels/cpu/optimizer.h"
#include "kernels/cuda/optimizer.h"

namespace anvil::ops {

using namespace detail;

namespace {

void check_state(const Tensor& t, const Tensor& param, const char* op, const char* what) {
  ANVIL_CHECK_OP(t.defined(), "[", op, "] ", what, " of '", param.name(), "' is undefined");
  ANVIL_CHECK_OP(t.dtype() == DType::F32 && t.is_contiguous(), "[", op, "] ", what, " of '", param.name(),
                 "' must be a contiguous f32 tensor, got ", t.str());
  ANVIL_CHECK_OP(t.numel() == param.numel(), "[", op, "] ", what, " of '", param.name(), "' is ", t.str(),
                 " but the parameter is ", param.str());
  ANVIL_CHECK_OP(t.device() == param.device(), "[", op, "] ", what, " of '", param.name(), "' is on ",
                 t.device().str(), " but the parameter on ", param.device().str(),
                 " (move the model before creating the optimizer)");
}

}  // namespace

void adamw_step_(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamWHyper& h) {
  check_state(param, param, "adamw", "parameter");
  check_state(grad, param, "adamw", "gradient");
  check_state(m, param, "adamw", "first moment");
  check_state(v, param, "adamw", "second moment");
  if (param.device().is_cpu()) {
    ANVIL_CHECK_OP(!h.grad_scale.defined(), "[adamw] a device gradient scale is for CUDA parameters");
    kernels::cpu::adamw_step_f32(param.data<float>(), grad.data<float>(), m.data<float>(), v.data<float>(),
                                 param.numel(), h.lr, h.beta1, h.beta2, h.eps, h.weight_decay, h.step);
    return;
  }
  kernels::cuda::AdamWArgs a;  // the fused CUDA kernel: one pass over p, g, m, v
  a.params = param.data<float>();
  a.grads = grad.data<float>();
  a.grad_dtype = DType::F32;
  a.m = m.data<float>();
  a.v = v.data<float>();
  a.n = param.numel();
  a.lr = h.lr;
  a.beta1 = h.beta1;
  a.beta2 = h.beta2;
  a.eps = h.eps;
  a.weight_decay = h.weight_decay;
  a.step = h.step;
  if (h.grad_scale.defined()) {
    ANVIL_CHECK_OP(h.grad_scale.device() == param.device() && h.grad_scale.dtype() == DType::F32 &&
                       h.grad_scale.numel() == 1,
                   "[adamw] grad_scale must be one f32 on the parameter's device, got ", h.grad_scale.str());
    a.grad_scale_device = h.grad_scale.data<float>();
  }
  a.stream = cuda_stream(param);
  kernels::cuda::adamw_step(a);
}

void sgd_step_(Tensor& param, const Tensor& grad, Tensor* momentum_buf, float lr, float momentum, float weight_decay,
               bool nesterov) {
  check_state(param, param, "sgd", "parameter");
  check_state(grad, param, "sgd", "gradient");
  ANVIL_CHECK_OP(momentum == 0.0f || momentum_buf != nullptr, "[sgd] momentum ", momentum, " without a buffer");
  float* buf = nullptr;
  if (momentum_buf != nullptr && momentum != 0.0f) {
    check_state(*momentum_buf, param, "sgd", "momentum buffer");
    buf = momentum_buf->data<float>();
  }
  if (param.device().is_cpu()) {
    kernels::cpu::sgd_step_f32(param.data<float>(), grad.data<float>(), buf, param.numel(), lr, momentum, weight_decay,
                               nesterov);
    return;
  }
  kernels::cuda::sgd_step(param.data<float>(), grad.data<float>(), buf, param.numel(), lr, momentum, weight_decay,
                          nesterov, cuda_stream(param));
}

namespace {

// Sum of squares of the CUDA tensors of one device, by the deterministic two-pass kernels; the norm
// comes back to the host once (one synchronization).
// The norm (and, when clip_scale is set, the clip coefficient) of contiguous CUDA tensors of one
// device, as 1-element device tensors.
Tensor cuda_norm(const std::vector<Tensor>& tensors, Device device, float max_norm, Tensor* clip_scale) {
  const int64_t per = kernels::cuda::grad_norm_partials_per_tensor();
  Tensor partials = Tensor::empty({int64_t(tensors.size()) * per}, DType::F32, device);  // tensors: not empty
  Tensor norm = Tensor::empty({1}, DType::F32, device);
  if (clip_scale) *clip_scale = Tensor::empty({1}, DType::F32, device);
  void* stream = cuda_stream(norm);
  for (size_t t = 0; t < tensors.size(); ++t)
    kernels::cuda::grad_sumsq_partials(tensors[t].dtype(), tensors[t].data_ptr(), tensors[t].numel(),
                                       partials.data<float>() + int64_t(t) * per, stream);
  kernels::cuda::grad_norm_finish(partials.data<float>(), partials.numel(), norm.data<float>(), max_norm,
                                  clip_scale ? clip_scale->data<float>() : nullptr, stream);
  return norm;
}

double cuda_sum_squares(const std::vector<Tensor>& tensors, Device device) {
  if (tensors.empty()) return 0.0;
  const double n = double(cuda_norm(tensors, device, 0.0f, nullptr).item());
  return n * n;
}

}  // namespace

double sum_squares(const std::vector<Tensor>& tensors) {
  double total = 0.0;
  std::vector<std::pair<Device, std::vector<Tensor>>> on_cuda;  // per CUDA device, in the given order
  for (Tensor t : tensors) {
    if (!t.defined()) continue;
    check_floating(t, "sum_squares", "tensor");
    t = t.detach();
    if (t.device().is_cuda()) {
      // The CUDA kernels read f32, bf16 or f16 in place; only the layout needs a copy.
      t = t.contiguous();
      auto it = std::find_if(on_cuda.begin(), on_cuda.end(), [&](const auto& e) { return e.first == t.device(); });
      if (it == on_cuda.end()) {
        on_cuda.push_back({t.device(), {}});
        it = on_cuda.end() - 1;
      }
      it->second.push_back(t);
      continue;
    }
    t = f32_contiguous(t);
    total += kernels::cpu::sum_squares_f32(t.data<float>(), t.numel());
  }
  for (const auto& [device, list] : on_cuda) total += cuda_sum_squares(list, device);
  return total;
}

Tensor grad_norm_on_device(const std::vector<Tensor>& tensors, float max_norm, Tensor* clip_scale) {
  ANVIL_CHECK_OP(clip_scale != nullptr, "[grad_norm_on_device] needs somewhere to put the clip scale");
  std::vector<Tensor> list;
  Device device = Device::cpu();
  for (Tensor t : tensors) {
    if (!t.defined()) continue;
    check_floating(t, "grad_norm_on_device", "tensor");
    ANVIL_CHECK_OP(t.device().is_cuda() && (list.empty() || t.device() == device),
                   "[grad_norm_on_device] every tensor must be on one CUDA device, got ", t.str());
    device = t.device();
    list.push_back(t.detach().contiguous());
  }
  ANVIL_CHECK_OP(!list.empty(), "[grad_norm_on_device] no tensor to measure (its device is unknown)");
  return cuda_norm(list, device, max_norm, clip_scale);
}

}  // namespace anvil::ops
