// Module: a tree of named parameters and child modules, as in torch.nn.Module.
//
// Names are dotted paths built from the registration names ("transformer.h.0.attn.c_attn.weight"),
// so a model that registers its parts under Hugging Face's names gets HF's parameter names for
// free. named_parameters() walks the tree depth-first in registration order (parameters of a
// module before its children) and lists a tensor shared by two modules (tied weights) once, under
// the first name, like PyTorch.
//
// Parameters are Tensor handles that share their TensorImpl with the module's field (Linear::weight);
// code that changes a parameter's values must write into it (ops::copy_) rather than rebind the
// field, or the registry and the field would disagree. to(Device) swaps the storage inside the
// shared impl for the same reason.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor/tensor.h"

namespace anvil::nn {

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // (dotted name, parameter), depth-first, tied tensors once.
  std::vector<std::pair<std::string, Tensor>> named_parameters() const;
  std::vector<Tensor> parameters() const;
  // (dotted name, module) for this module ("") and every descendant.
  std::vector<std::pair<std::string, Module*>> named_modules();
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const { return children_; }
  // The direct child registered as `name`, or nullptr.
  Module* child(const std::string& name) const;
  int64_t num_parameters() const;  // total elements

  // Training mode (dropout active) for this module and all descendants.
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Moves every parameter (and its gradient is dropped) to `device`, keeping the handles valid.
  void to(Device device);
  void zero_grad();

 protected:
  // Registers `t` as a parameter: marks it requires_grad and names it `name` (the dotted name is
  // set on the tensor by named_parameters' callers when needed). Returns the stored handle.
  Tensor register_parameter(const std::string& name, Tensor t);
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    add_child(name, m);
    return m;
  }
  // Replaces or removes (m == nullptr) a registered child.
  void set_child(const std::string& name, std::shared_ptr<Module> m);

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> m);
  void collect_parameters(const std::string& prefix, std::vector<std::pair<std::string, Tensor>>& out,
                          std::vector<const TensorImpl*>& seen) const;

  std::vector<std::pair<std::string, Tensor>> params_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

// Children named "0", "1", ... (GPT-2's transformer.h, Llama's model.layers).
template <typename M>
class ModuleList : public Module {
 public:
  void push_back(std::shared_ptr<M> m) {
    register_module(std::to_string(items_.size()), m);
    items_.push_back(std::move(m));
  }
  M& operator[](size_t i) const { return *items_.at(i); }
  size_t size() const { return items_.size(); }
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }

 private:
  std::vector<std::shared_ptr<M>> items_;
};

}  // namespace anvil::nn
