// Grad mode and graph recording. The engine that runs a backward pass adds gradients with ops, so
// it lives one layer up, in core/ops/backward.cpp (the layer rules in docs/ARCHITECTURE.md).
#include "core/autograd/autograd.h"

#include "core/base/error.h"

namespace anvil {

namespace {
thread_local bool g_grad_enabled = true;
}

bool grad_enabled() { return g_grad_enabled; }
void set_grad_enabled(bool enabled) { g_grad_enabled = enabled; }

bool any_requires_grad(std::initializer_list<const Tensor*> inputs) {
  if (!g_grad_enabled) return false;
  for (const Tensor* t : inputs)
    if (t->defined() && t->requires_grad()) return true;
  return false;
}

bool any_requires_grad(const std::vector<Tensor>& inputs) {
  if (!g_grad_enabled) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

Tensor record_op(const char* name, std::vector<Tensor> inputs, Tensor output, BackwardFn backward) {
  if (!any_requires_grad(inputs)) return output;
  auto node = std::make_shared<Node>();
  node->name = name;
  node->needs_grad.reserve(inputs.size());
  for (const Tensor& t : inputs) node->needs_grad.push_back(t.defined() && t.requires_grad());
  node->inputs = std::move(inputs);
  node->backward = std::move(backward);
  output.impl()->grad_fn = std::move(node);
  output.impl()->requires_grad = true;
  return output;
}

}  // namespace anvil
