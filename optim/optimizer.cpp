// Optimizer base: parameter checks, state naming, gradient lookup, checkpoint state plumbing, and
// the default decay / no-decay parameter grouping.
#include "optim/optimizer.h"

#include <set>
#include <unordered_map>

#include "core/base/error.h"
#include "core/ops/ops.h"
#include "optim/clip.h"

namespace anvil::optim {

Optimizer::Optimizer(std::vector<ParamGroup> groups, std::string kind)
    : groups_(std::move(groups)), kind_(std::move(kind)) {
  std::set<const TensorImpl*> seen_tensors;
  std::set<std::string> seen_names;
  for (const ParamGroup& group : groups_) {
    for (size_t i = 0; i < group.params.size(); ++i) {
      const Tensor& p = group.params[i];
      ANVIL_CHECK_OP(p.defined(), "[", kind_, "] group '", group.name, "' parameter ", i, " is undefined");
      ANVIL_CHECK_OP(is_floating(p.dtype()), "[", kind_, "] parameter '", p.name(), "' must be floating, got ",
                     p.str());
      ANVIL_CHECK_OP(seen_tensors.insert(p.impl()).second, "[", kind_, "] parameter '", p.name(),
                     "' appears twice; it would be updated twice per step");
      std::string name = p.name().empty() ? group.name + "." + std::to_string(i) : p.name();
      ANVIL_CHECK_OP(seen_names.insert(name).second, "[", kind_, "] two parameters are named '", name,
                     "'; optimizer state is keyed by name");
      param_names_.push_back(std::move(name));
    }
  }
}

std::vector<Tensor> Optimizer::parameters() const {
  std::vector<Tensor> all;
  for (const ParamGroup& group : groups_) all.insert(all.end(), group.params.begin(), group.params.end());
  return all;
}

float Optimizer::clip_grad_norm(float max_norm) { return optim::clip_grad_norm(parameters(), max_norm); }

Tensor Optimizer::clip_grad_norm_deferred(float max_norm) { return Tensor::full({1}, clip_grad_norm(max_norm)); }

void Optimizer::zero_grad() {
  for (ParamGroup& group : groups_)
    for (Tensor& p : group.params) p.zero_grad();
}

Tensor Optimizer::f32_grad_of(const Tensor& param) const {
  Tensor g = param.grad();
  if (!g.defined()) return g;
  ANVIL_CHECK_OP(g.shape() == param.shape(), "[", kind_, "] gradient of '", param.name(), "' is ", g.str(),
                 " but the parameter is ", param.str());
  if (g.device() != param.device()) g = g.to(param.device());
  if (g.dtype() != DType::F32) g = g.to(DType::F32);
  return g.contiguous();
}

void Optimizer::check_updatable(const Tensor& param) const {
  ANVIL_CHECK_OP(param.dtype() == DType::F32 && param.is_contiguous(), "[", kind_, "] parameter '",
                 param.name(), "' must be a contiguous f32 tensor for the update kernels, got ", param.str());
  // core/ops/optimizer.h runs the CPU or the CUDA kernel by param.device(); each parameter's state
  // lives on its device.
}

void Optimizer::add_state_kind(const std::string& prefix) {
  state_prefixes_.push_back(prefix);
  int64_t flat = 0;
  for (const ParamGroup& group : groups_)
    for (const Tensor& p : group.params)
      state_[prefix + "." + param_names_[size_t(flat++)]] = Tensor::zeros(p.shape(), DType::F32, p.device());
}

Tensor& Optimizer::state(const std::string& prefix, int64_t flat_index) {
  auto it = state_.find(prefix + "." + param_names_[size_t(flat_index)]);
  ANVIL_ASSERT(it != state_.end(), "no state ", prefix, " for ", param_names_[size_t(flat_index)]);
  return it->second;
}

std::map<std::string, Tensor> Optimizer::all_state_tensors() const { return state_; }

void Optimizer::load_state_tensors_and_step(const std::map<std::string, Tensor>& tensors,
                                            const nlohmann::json& scalars) {
  // Validate everything before copying anything, so a failed load leaves the optimizer untouched.
  ANVIL_CHECK_AS(CheckpointError, scalars.is_object(), "[", kind_, "] optimizer scalars must be an object, got ",
                 scalars.dump());
  ANVIL_CHECK_AS(CheckpointError, scalars.contains("optimizer") && scalars["optimizer"].is_string(), "[", kind_,
                 "] optimizer state lacks the string \"optimizer\"");
  const std::string saved_kind = scalars["optimizer"].get<std::string>();
  ANVIL_CHECK_AS(CheckpointError, saved_kind == kind_, "[", kind_, "] optimizer state was saved by '", saved_kind,
                 "', cannot restore it into '", kind_, "'");
  ANVIL_CHECK_AS(CheckpointError,
                 scalars.contains("step") && scalars["step"].is_number_integer() && scalars["step"].get<int64_t>() >= 0,
                 "[", kind_, "] optimizer state lacks a non-negative integer \"step\"");
  for (const auto& [name, mine] : state_) {
    auto it = tensors.find(name);
    ANVIL_CHECK_AS(CheckpointError, it != tensors.end(), "[", kind_, "] optimizer state tensor '", name,
                   "' is missing from the checkpoint");
    ANVIL_CHECK_AS(CheckpointError, it->second.defined() && it->second.shape() == mine.shape(), "[", kind_,
                   "] optimizer state tensor '", name, "' has shape ",
                   it->second.defined() ? shape_str(it->second.shape()) : std::string("<undefined>"),
                   " in the checkpoint, expected ", shape_str(mine.shape()));
  }
  for (const auto& [name, saved] : tensors)
    ANVIL_CHECK_AS(CheckpointError, state_.count(name) == 1, "[", kind_, "] checkpoint has optimizer state tensor '",
                   name, "' that matches no parameter of this model");
  for (auto& [name, mine] : state_) ops::copy_(mine, tensors.at(name));
  step_ = scalars["step"].get<int64_t>();
}

std::vector<ParamGroup> default_param_groups(const std::vector<std::pair<std::string, Tensor>>& named_params,
                                             float weight_decay) {
  auto is_embedding_name = [](const std::string& name) {
    return name.find("wte") != std::string::npos || name.find("wpe") != std::string::npos ||
           name.find("embed_tokens") != std::string::npos;
  };
  // A tied tensor (GPT-2's wte = lm_head.weight) is an embedding when any of its names says so.
  std::unordered_map<const TensorImpl*, bool> any_embedding_name;
  for (const auto& [name, t] : named_params) any_embedding_name[t.impl()] |= is_embedding_name(name);

  ParamGroup decay{{}, weight_decay, "decay"};
  ParamGroup no_decay{{}, 0.0f, "no_decay"};
  std::set<const TensorImpl*> seen;
  for (const auto& [name, t] : named_params) {
    ANVIL_CHECK_OP(t.defined(), "[default_param_groups] parameter '", name, "' is undefined");
    if (!seen.insert(t.impl()).second) continue;
    Tensor p = t;
    if (p.name().empty()) p.set_name(name);
    const bool decays = p.dim() >= 2 && !any_embedding_name[p.impl()];
    (decays ? decay : no_decay).params.push_back(p);
  }
  return {std::move(decay), std::move(no_decay)};
}

}  // namespace anvil::optim
