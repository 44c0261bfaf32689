// SGD with optional (Nesterov) momentum: the bookkeeping around ops::sgd_step_ (core/ops/optimizer.h).
//
// State: "momentum.<name>" per parameter when momentum > 0 (none otherwise), plus the step counter.
#include "core/base/error.h"
#include "core/ops/optimizer.h"
#include "optim/optimizer.h"

namespace anvil::optim {
namespace {

class Sgd final : public Optimizer {
 public:
  Sgd(std::vector<ParamGroup> groups, float momentum, bool nesterov)
      : Optimizer(std::move(groups), "sgd"), momentum_(momentum), nesterov_(nesterov) {
    ANVIL_CHECK_AS(ConfigError, momentum >= 0.0f && momentum < 1.0f, "[sgd] momentum must be in [0, 1), got ",
                   momentum);
    ANVIL_CHECK_AS(ConfigError, !nesterov || momentum > 0.0f, "[sgd] nesterov needs momentum > 0");
    if (momentum_ > 0.0f) add_state_kind("momentum");
  }

  void step(float lr) override {
    ++step_;
    int64_t flat = 0;
    for (ParamGroup& group : groups_) {
      for (Tensor& p : group.params) {
        const int64_t index = flat++;
        Tensor g = f32_grad_of(p);
        if (!g.defined()) continue;
        check_updatable(p);
        Tensor* buf = momentum_ > 0.0f ? &state("momentum", index) : nullptr;
        ops::sgd_step_(p, g, buf, lr, momentum_, group.weight_decay, nesterov_);
      }
    }
  }

  std::map<std::string, Tensor> state_tensors() const override { return all_state_tensors(); }

  nlohmann::json state_scalars() const override {
    return {{"optimizer", kind_}, {"step", step_}, {"momentum", momentum_}, {"nesterov", nesterov_}};
  }

  void load_state(const std::map<std::string, Tensor>& tensors, const nlohmann::json& scalars) override {
    load_state_tensors_and_step(tensors, scalars);
  }

 private:
  float momentum_;
  bool nesterov_;
};

}  // namespace

std::unique_ptr<Optimizer> make_sgd(std::vector<ParamGroup> groups, float momentum, bool nesterov) {
  return std::make_unique<Sgd>(std::move(groups), momentum, nesterov);
}

}  // namespace anvil::optim
