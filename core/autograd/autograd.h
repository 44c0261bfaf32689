// Reverse-mode autograd.
//
// Every differentiable op builds its output and, when grad mode is on and any input requires
// grad, attaches a Node: the op's inputs (the graph's edges) and a backward closure that maps the
// output's gradient to one gradient per input (an undefined Tensor where an input needs none).
// The closure captures what the op saved for backward; it is dropped once backward has run, which
// frees the graph. Leaves (parameters, inputs with requires_grad) accumulate into .grad (+=), and
// then run their post-accumulate hooks: the place where DDP launches a bucket's all-reduce.
//
//   Tensor y = record_op("MulBackward", {a, b}, out,
//       [a, b](const Tensor& gy, const std::vector<bool>& needs) -> std::vector<Tensor> {
//         return {needs[0] ? mul(gy, b) : Tensor(), needs[1] ? mul(gy, a) : Tensor()};
//       });
//
// Backward closures run with grad mode off (no higher-order gradients).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/tensor/tensor.h"

namespace anvil {

using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output, const std::vector<bool>& needs_grad)>;

struct Node {
  std::string name;                // e.g. "MatmulBackward"
  std::vector<Tensor> inputs;      // the op's inputs, in the order backward returns gradients
  std::vector<bool> needs_grad;    // inputs[i].requires_grad() when the op ran
  BackwardFn backward;
  // Drops the saved tensors and edges (after backward, or when the graph is discarded).
  void release() {
    inputs.clear();
    backward = nullptr;
  }
};

bool grad_enabled();
void set_grad_enabled(bool enabled);

// Disables graph recording in a scope (evaluation, optimizer steps, generation).
class NoGradGuard {
 public:
  NoGradGuard() : prev_(grad_enabled()) { set_grad_enabled(false); }
  ~NoGradGuard() { set_grad_enabled(prev_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

// True when an op on these inputs must record a node.
bool any_requires_grad(std::initializer_list<const Tensor*> inputs);
bool any_requires_grad(const std::vector<Tensor>& inputs);

// Attaches a backward node to `output` if grad mode is on and any input requires grad; returns output.
Tensor record_op(const char* name, std::vector<Tensor> inputs, Tensor output, BackwardFn backward);

// Runs backpropagation from `root` with `grad_root` (ones for a scalar when undefined).
void run_backward(const Tensor& root, const Tensor& grad_root);  // defined in core/ops/backward.cpp

// Reduces a broadcast gradient back to an input's shape (sums over broadcast dims).
Tensor sum_to_shape(const Tensor& grad, const Shape& shape);  // defined in core/ops/backward.cpp

}  // namespace anvil
