// The optimizer interface (AdamW, SGD), default parameter grouping, and the helpers every
// optimizer shares: finding each parameter's gradient and naming its state for checkpoints.
//
// An optimizer owns one state tensor per parameter and kind ("m.<param name>", "v.<param name>" for
// AdamW, "momentum.<param name>" for SGD with momentum), created as zeros at construction so that a
// fresh optimizer and a restored one hold the same set of names. The step counter is global (one per
// optimizer, as in llm.c), not per parameter as in PyTorch; the two agree whenever every parameter
// receives a gradient on every step, which is how the trainer uses it.
//
// A parameter's state name is its Tensor name (models give parameters their HF names;
// default_param_groups names unnamed ones); an unnamed parameter falls back to "<group>.<index>".
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor/tensor.h"

namespace anvil::optim {

struct ParamGroup {
  std::vector<Tensor> params;
  float weight_decay = 0.0f;
  std::string name;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // The optimizer step of a training loop is: clip_grad_norm(max_norm), step(lr), zero_grad().
  //
  // Clips the gradients to a global L2 norm of max_norm (max_norm <= 0: measure only) and returns
  // the norm before clipping. The default is optim::clip_grad_norm over this optimizer's
  // parameters; a sharded optimizer (ZeRO-1, distributed/zero.h) first averages the gradients
  // across ranks into its shard, so there it is collective.
  virtual float clip_grad_norm(float max_norm);
  // The same, without waiting for the device where the optimizer can: returns the norm as a
  // 1-element f32 tensor that may still be being computed on the parameters' CUDA device (read it
  // later, e.g. once per log interval). AdamW on one CUDA device measures and clips there (the clip
  // coefficient goes into its fused update); the default is clip_grad_norm's value in a CPU tensor.
  virtual Tensor clip_grad_norm_deferred(float max_norm);
  // One update with learning rate lr, using each parameter's .grad(); parameters without a
  // gradient are skipped (their state is left as it is). Advances the step counter.
  virtual void step(float lr) = 0;
  // Drops every parameter's gradient (the next backward assigns a fresh one).
  void zero_grad();

  // The state for a checkpoint, under the names of the unsharded optimizer (so a checkpoint moves
  // between sharded and plain optimizers and between world sizes). The tensors may be the
  // optimizer's own (they share storage): save them before the next step() if a snapshot is
  // needed. Collective for a sharded optimizer: every rank must call it.
  virtual std::map<std::string, Tensor> state_tensors() const = 0;
  // {"optimizer": "<kind>", "step": <int>, plus hyperparameters for the record}.
  virtual nlohmann::json state_scalars() const = 0;
  // Copies saved state in. Every expected tensor must be present with the same shape and no
  // unexpected one may appear, else anvil::CheckpointError naming the tensor; likewise a missing
  // "step" or a different "optimizer" kind.
  virtual void load_state(const std::map<std::string, Tensor>& tensors, const nlohmann::json& scalars) = 0;

  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  // Every parameter, flat over the groups in order.
  std::vector<Tensor> parameters() const;
  int64_t step_count() const { return step_; }

 protected:
  // Checks that every parameter is a floating tensor and appears once, and assigns state names.
  Optimizer(std::vector<ParamGroup> groups, std::string kind);

  // The gradient of a parameter as a contiguous f32 tensor on the parameter's device, or an
  // undefined Tensor when it has none. Throws OpError when the gradient's shape differs.
  Tensor f32_grad_of(const Tensor& param) const;
  // Checks that a parameter can be updated in place by the f32 kernels.
  void check_updatable(const Tensor& param) const;
  // Creates one zero state tensor per parameter, keyed "<prefix>.<param name>".
  void add_state_kind(const std::string& prefix);
  Tensor& state(const std::string& prefix, int64_t flat_index);

  // Shared checkpoint plumbing for the subclasses.
  std::map<std::string, Tensor> all_state_tensors() const;
  void load_state_tensors_and_step(const std::map<std::string, Tensor>& tensors, const nlohmann::json& scalars);

  std::vector<ParamGroup> groups_;
  std::string kind_;                       // "adamw", "sgd": checked on load
  std::vector<std::string> param_names_;   // flat over groups, in group order
  std::vector<std::string> state_prefixes_;
  std::map<std::string, Tensor> state_;    // "<prefix>.<param name>" -> state tensor
  int64_t step_ = 0;
};

// AdamW with decoupled weight decay (PyTorch semantics: p -= lr*wd*p; then the Adam update with
// bias correction). Each group's weight_decay applies to its parameters.
std::unique_ptr<Optimizer> make_adamw(std::vector<ParamGroup> groups, float beta1, float beta2, float eps);

// SGD with optional (Nesterov) momentum; a group's weight_decay is the coupled L2 term added to the
// gradient, as in torch.optim.SGD.
std::unique_ptr<Optimizer> make_sgd(std::vector<ParamGroup> groups, float momentum, bool nesterov = false);

// Two groups, always in this order: "decay" (matrices, dim >= 2, that are not embeddings: names
// containing "wte", "wpe" or "embed_tokens") with the given weight_decay, and "no_decay" (biases,
// norm weights, embeddings) with 0. A tensor listed twice (tied weights) is kept once, under its
// first name; unnamed tensors take their listed name.
std::vector<ParamGroup> default_param_groups(const std::vector<std::pair<std::string, Tensor>>& named_params,
                                             float weight_decay);

}  // namespace anvil::optim
