// Module tree walking: hierarchical names, train mode, device moves and gradient reset.
#include "core/nn/module.h"

#include <algorithm>

#include "core/autograd/autograd.h"
#include "core/base/error.h"

namespace anvil::nn {

Tensor Module::register_parameter(const std::string& name, Tensor t) {
  ANVIL_ASSERT(t.defined(), "parameter '", name, "' is undefined");
  for (const auto& [n, p] : params_) ANVIL_ASSERT(n != name, "parameter '", name, "' registered twice");
  t.set_requires_grad(true);
  if (t.name().empty()) t.set_name(name);
  params_.emplace_back(name, t);
  return t;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> m) {
  ANVIL_ASSERT(m != nullptr, "child '", name, "' is null");
  for (const auto& [n, c] : children_) ANVIL_ASSERT(n != name, "child '", name, "' registered twice");
  children_.emplace_back(name, std::move(m));
}

void Module::set_child(const std::string& name, std::shared_ptr<Module> m) {
  auto it = std::find_if(children_.begin(), children_.end(), [&](const auto& c) { return c.first == name; });
  if (it != children_.end()) {
    if (m)
      it->second = std::move(m);
    else
      children_.erase(it);
  } else if (m) {
    children_.emplace_back(name, std::move(m));
  }
}

Module* Module::child(const std::string& name) const {
  for (const auto& [n, c] : children_)
    if (n == name) return c.get();
  return nullptr;
}

void Module::collect_parameters(const std::string& prefix, std::vector<std::pair<std::string, Tensor>>& out,
                                std::vector<const TensorImpl*>& seen) const {
  for (const auto& [name, p] : params_) {
    if (std::find(seen.begin(), seen.end(), p.impl()) != seen.end()) continue;
    seen.push_back(p.impl());
    out.emplace_back(prefix + name, p);
  }
  for (const auto& [name, c] : children_) c->collect_parameters(prefix + name + ".", out, seen);
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Tensor>> out;
  std::vector<const TensorImpl*> seen;
  collect_parameters("", out, seen);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [n, p] : named_parameters()) out.push_back(p);
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  std::vector<std::pair<std::string, Module*>> out{{"", this}};
  for (const auto& [name, c] : children_)
    for (auto& [sub, m] : c->named_modules()) out.emplace_back(sub.empty() ? name : name + "." + sub, m);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const auto& [name, p] : named_parameters()) n += p.numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, c] : children_) c->train(on);
}

void Module::to(Device device) {
  NoGradGuard no_grad;
  for (auto& [name, p] : named_parameters()) {
    if (p.device() == device) continue;
    Tensor moved = p.detach().to(device).contiguous();
    TensorImpl* impl = p.impl();
    impl->storage = moved.storage();
    impl->strides = moved.strides();
    impl->offset = moved.offset();
    impl->grad.reset();
  }
}

void Module::zero_grad() {
  for (auto& p : parameters()) p.zero_grad();
}

}  // namespace anvil::nn
