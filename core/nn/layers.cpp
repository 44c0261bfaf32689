// Forward passes of the basic layers: thin wrappers over core/ops with the Linear hooks.
#include "core/nn/layers.h"

#include "core/ops/ops.h"

namespace anvil::nn {

Linear::Linear(int64_t in, int64_t out, bool with_bias) : in_features(in), out_features(out) {
  weight = register_parameter("weight", Tensor::zeros({out, in}));
  if (with_bias) bias = register_parameter("bias", Tensor::zeros({out}));
}

Tensor Linear::forward(const Tensor& x) const {
  Tensor y = ops::linear(x, effective_weight(), bias);  // (..., out)
  if (adapter_) y = ops::add(y, adapter_->forward(x));
  return y;
}

void Linear::set_adapter(std::shared_ptr<LinearAdapter> adapter) {
  adapter_ = std::move(adapter);
  set_child("adapter", adapter_);
}

Embedding::Embedding(int64_t n, int64_t dim) { weight = register_parameter("weight", Tensor::zeros({n, dim})); }

Tensor Embedding::forward(const Tensor& ids) const { return ops::embedding(weight, ids); }

LayerNorm::LayerNorm(int64_t dim, float eps_in) : eps(eps_in) {
  weight = register_parameter("weight", Tensor::ones({dim}));
  bias = register_parameter("bias", Tensor::zeros({dim}));
}

Tensor LayerNorm::forward(const Tensor& x) const { return ops::layer_norm(x, weight, bias, eps); }

RMSNorm::RMSNorm(int64_t dim, float eps_in) : eps(eps_in) { weight = register_parameter("weight", Tensor::ones({dim})); }

Tensor RMSNorm::forward(const Tensor& x) const { return ops::rms_norm(x, weight, eps); }

Dropout::Dropout(float p_in, std::shared_ptr<Generator> gen) : p(p_in), gen_(std::move(gen)) {}

Tensor Dropout::forward(const Tensor& x) const {
  if (!is_training() || p <= 0.0f) return x;
  return ops::dropout(x, p, *gen_);
}

}  // namespace anvil::nn
