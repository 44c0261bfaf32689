// AdamW: the bookkeeping around ops::adamw_step_ (core/ops/optimizer.h, which runs the CPU or the
// fused CUDA kernel by the parameter's device), one kernel call per parameter.
//
// State: "m.<name>" (first moment) and "v.<name>" (second moment), f32, shaped like the
// parameter; the global step counter feeds the bias corrections.
#include <cmath>

#include "core/base/error.h"
#include "core/ops/optimizer.h"
#include "optim/optimizer.h"

namespace anvil::optim {
namespace {

class AdamW final : public Optimizer {
 public:
  AdamW(std::vector<ParamGroup> groups, float beta1, float beta2, float eps)
      : Optimizer(std::move(groups), "adamw"), beta1_(beta1), beta2_(beta2), eps_(eps) {
    ANVIL_CHECK_AS(ConfigError, beta1 >= 0.0f && beta1 < 1.0f, "[adamw] beta1 must be in [0, 1), got ", beta1);
    ANVIL_CHECK_AS(ConfigError, beta2 >= 0.0f && beta2 < 1.0f, "[adamw] beta2 must be in [0, 1), got ", beta2);
    ANVIL_CHECK_AS(ConfigError, eps >= 0.0f, "[adamw] eps must be >= 0, got ", eps);
    add_state_kind("m");
    add_state_kind("v");
  }

  float clip_grad_norm(float max_norm) override {
    clip_scale_ = Tensor();  // clipped on the host: the update takes the gradients as they are
    return Optimizer::clip_grad_norm(max_norm);
  }

  Tensor clip_grad_norm_deferred(float max_norm) override {
    clip_scale_ = Tensor();
    std::vector<Tensor> grads;
    bool one_cuda_device = true;
    for (const Tensor& p : parameters()) {
      Tensor g = p.grad();
      if (!g.defined()) continue;
      one_cuda_device = one_cuda_device && g.device().is_cuda() && g.dtype() == DType::F32 &&
                        (grads.empty() || g.device() == grads.front().device());
      grads.push_back(g);
    }
    if (!one_cuda_device || grads.empty()) return Optimizer::clip_grad_norm_deferred(max_norm);
    // Norm and clip coefficient stay on the device; step() scales each gradient inside the update.
    return ops::grad_norm_on_device(grads, max_norm, &clip_scale_);
  }

  void step(float lr) override {
    ++step_;
    const Tensor scale = clip_scale_;
    clip_scale_ = Tensor();
    int64_t flat = 0;
    for (ParamGroup& group : groups_) {
      for (Tensor& p : group.params) {
        const int64_t index = flat++;
        Tensor g = f32_grad_of(p);
        if (!g.defined()) continue;
        check_updatable(p);
        Tensor& m = state("m", index);
        Tensor& v = state("v", index);
        ops::adamw_step_(p, g, m, v, {lr, beta1_, beta2_, eps_, group.weight_decay, step_, scale});
      }
    }
  }

  std::map<std::string, Tensor> state_tensors() const override { return all_state_tensors(); }

  nlohmann::json state_scalars() const override {
    return {{"optimizer", kind_}, {"step", step_}, {"beta1", beta1_}, {"beta2", beta2_}, {"eps", eps_}};
  }

  void load_state(const std::map<std::string, Tensor>& tensors, const nlohmann::json& scalars) override {
    load_state_tensors_and_step(tensors, scalars);
  }

 private:
  float beta1_, beta2_, eps_;
  Tensor clip_scale_;  // set by clip_grad_norm_deferred on CUDA, used by the next step()
};

}  // namespace

std::unique_ptr<Optimizer> make_adamw(std::vector<ParamGroup> groups, float beta1, float beta2, float eps) {
  return std::make_unique<AdamW>(std::move(groups), beta1, beta2, eps);
}

}  // namespace anvil::optim
