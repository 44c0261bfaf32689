// The backward engine (declared in core/autograd/autograd.h): orders the graph, runs the backward
// closures and accumulates into leaves. It sums gradients with ops (add, add_, sum), so it lives
// here in core/ops, above autograd, rather than in core/autograd (docs/ARCHITECTURE.md, layer rules).
#include <unordered_map>
#include <unordered_set>

#include "core/autograd/autograd.h"
#include "core/base/error.h"
#include "core/ops/ops.h"

namespace anvil {

namespace {

// Accumulates g into a leaf's .grad and runs its hooks.
void accumulate_leaf(Tensor leaf, const Tensor& g) {
  ANVIL_ASSERT(g.shape() == leaf.shape(), "gradient shape ", shape_str(g.shape()), " for leaf ",
               leaf.name(), " of shape ", shape_str(leaf.shape()));
  Tensor grad = leaf.grad();
  if (!grad.defined()) {
    // A fresh buffer: g may alias a gradient handed to other inputs too.
    Tensor fresh = g.dtype() == leaf.dtype() ? g.clone() : g.to(leaf.dtype());
    if (fresh.impl() == g.impl()) fresh = g.clone();
    leaf.set_grad(fresh);
  } else {
    ops::add_(grad, g);
  }
  for (auto& hook : leaf.impl()->post_accumulate_hooks) hook(leaf);
}

}  // namespace

void run_backward(const Tensor& root, const Tensor& grad_root) {
  ANVIL_CHECK_OP(root.requires_grad(), "[backward] the tensor does not require grad (no graph was recorded)");
  Tensor g0 = grad_root;
  if (!g0.defined()) {
    ANVIL_CHECK_OP(root.numel() == 1, "[backward] needs a gradient for a non-scalar output of shape ",
                   shape_str(root.shape()));
    g0 = Tensor::ones(root.shape(), root.dtype(), root.device());
  }
  NoGradGuard no_grad;

  // Topological order over tensors (depth-first, iterative), children before parents.
  std::vector<TensorImpl*> order;
  std::unordered_map<TensorImpl*, Tensor> handle;  // keeps every visited tensor alive
  {
    std::unordered_set<TensorImpl*> visited;
    std::vector<std::pair<TensorImpl*, size_t>> stack;
    stack.push_back({root.impl(), 0});
    visited.insert(root.impl());
    handle[root.impl()] = root;
    while (!stack.empty()) {
      auto& [t, next] = stack.back();
      Node* node = t->grad_fn.get();
      if (node && next < node->inputs.size()) {
        const Tensor& in = node->inputs[next++];
        if (in.defined() && in.requires_grad() && !visited.count(in.impl())) {
          visited.insert(in.impl());
          handle[in.impl()] = in;
          stack.push_back({in.impl(), 0});
        }
        continue;
      }
      order.push_back(t);
      stack.pop_back();
    }
  }

  std::unordered_map<TensorImpl*, Tensor> pending;
  pending[root.impl()] = g0;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    TensorImpl* t = *it;
    auto pit = pending.find(t);
    if (pit == pending.end()) continue;  // no gradient flowed here
    Tensor g = std::move(pit->second);
    pending.erase(pit);
    std::shared_ptr<Node> node = t->grad_fn;
    if (!node) {
      accumulate_leaf(handle[t], g);
      continue;
    }
    ANVIL_ASSERT(node->backward, "backward through ", node->name,
                 " a second time: the graph was freed by the first backward()");
    std::vector<Tensor> grads = node->backward(g, node->needs_grad);
    ANVIL_ASSERT(grads.size() == node->inputs.size(), node->name, " returned ", grads.size(),
                 " gradients for ", node->inputs.size(), " inputs");
    for (size_t i = 0; i < grads.size(); ++i) {
      if (!node->needs_grad[i] || !grads[i].defined()) continue;
      const Tensor& in = node->inputs[i];
      ANVIL_ASSERT(grads[i].shape() == in.shape(), node->name, " gave gradient ", shape_str(grads[i].shape()),
                   " for input ", i, " of shape ", shape_str(in.shape()));
      auto& slot = pending[in.impl()];
      slot = slot.defined() ? ops::add(slot, grads[i]) : grads[i];
    }
    node->release();
  }
}

Tensor sum_to_shape(const Tensor& grad, const Shape& shape) {
  if (grad.shape() == shape) return grad;
  const int64_t gd = grad.dim(), sd = int64_t(shape.size());
  std::vector<int64_t> dims;
  for (int64_t i = 0; i < gd; ++i) {
    int64_t si = i - (gd - sd);
    if (si < 0 || (shape[size_t(si)] == 1 && grad.size(i) != 1)) dims.push_back(i);
  }
  Tensor r = dims.empty() ? grad : ops::sum(grad, dims, /*keepdim=*/true);
  return r.reshape(shape);
}

}  // namespace anvil
