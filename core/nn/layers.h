// The building blocks of the models: Linear, Embedding, LayerNorm, RMSNorm, Dropout.
//
// Parameters are created with placeholder values (zeros for weights, ones for norm scales); the
// model's initializer (core/models) or a checkpoint loader fills them in.
//
// Linear carries two hooks for later features, both off by default:
//   - a weight transform: forward uses transform(weight) instead of weight (fake quantization
//     plugs in here; the transform is differentiable, so gradients reach the real weight through it);
//   - an adapter: a module whose output on the same input is added to the layer's output (LoRA
//     plugs in here). The adapter is registered as the child "adapter", so its parameters appear in
//     named_parameters() as "<layer>.adapter.<name>"; the HF export (core/models/hf.h) writes only
//     the base weights.
#pragma once

#include <functional>
#include <memory>

#include "core/base/rng.h"
#include "core/nn/module.h"

namespace anvil::nn {

struct LinearAdapter : public Module {
  // x (..., in) -> (..., out), added to the base layer's output.
  virtual Tensor forward(const Tensor& x) = 0;
};

using WeightTransform = std::function<Tensor(const Tensor& weight)>;

class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true);
  // x (..., in) -> (..., out) = x @ W^T + b (+ adapter(x)).
  Tensor forward(const Tensor& x) const;
  // The weight as forward uses it (the transform applied).
  Tensor effective_weight() const { return weight_transform_ ? weight_transform_(weight) : weight; }

  void set_weight_transform(WeightTransform transform) { weight_transform_ = std::move(transform); }
  bool has_weight_transform() const { return bool(weight_transform_); }
  void set_adapter(std::shared_ptr<LinearAdapter> adapter);  // nullptr removes it
  const std::shared_ptr<LinearAdapter>& adapter() const { return adapter_; }

  int64_t in_features, out_features;
  Tensor weight;  // (out, in), like torch.nn.Linear
  Tensor bias;    // (out) or undefined

 private:
  WeightTransform weight_transform_;
  std::shared_ptr<LinearAdapter> adapter_;
};

class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t dim);
  Tensor forward(const Tensor& ids) const;  // ids (...) i32/i64 -> (..., dim)
  Tensor weight;                             // (num_embeddings, dim)
};

class LayerNorm : public Module {
 public:
  LayerNorm(int64_t dim, float eps);
  Tensor forward(const Tensor& x) const;
  float eps;
  Tensor weight;  // (dim), ones
  Tensor bias;    // (dim), zeros
};

class RMSNorm : public Module {
 public:
  RMSNorm(int64_t dim, float eps);
  Tensor forward(const Tensor& x) const;
  float eps;
  Tensor weight;  // (dim), ones
};

// Identity in eval mode or when p == 0. The generator is shared with the owning model so that one
// (seed, offset) pair describes every dropout mask of a run (checkpoints save it).
class Dropout : public Module {
 public:
  Dropout(float p, std::shared_ptr<Generator> gen);
  Tensor forward(const Tensor& x) const;
  float p;

 private:
  std::shared_ptr<Generator> gen_;
};

}  // namespace anvil::nn
