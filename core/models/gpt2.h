// GPT-2 (Radford et al. 2019) with Hugging Face's module tree and names:
//   transformer.wte, transformer.wpe, transformer.h.N.{ln_1, attn.c_attn, attn.c_proj, ln_2,
//   mlp.c_fc, mlp.c_proj}, transformer.ln_f, lm_head (tied to wte unless tie_embeddings is false).
// Pre-norm blocks: x += attn(ln_1(x)); x += mlp(ln_2(x)); attention scaled by 1/sqrt(D), causal.
//
// Layout trick: HF's GPT-2 uses Conv1D modules whose weights are stored (in, out). Ours are plain
// Linear modules with (out, in) weights like every other model, so c_attn/c_proj/c_fc are marked
// `transposed` in hf_tensors() and the HF loader/exporter transpose them on the way in and out.
#pragma once

#include "core/models/model.h"
#include "core/nn/layers.h"

namespace anvil::models {

class GPT2Attention : public nn::Module {
 public:
  GPT2Attention(const ModelConfig& cfg, std::shared_ptr<Generator> rng);
  // x (B, T, C) -> (B, T, C)
  Tensor forward(const Tensor& x, KVCache::Layer* cache);
  std::shared_ptr<nn::Linear> c_attn, c_proj;  // (3C, C), (C, C)
  std::shared_ptr<nn::Dropout> resid_dropout;

 private:
  int64_t n_head_;
};

class GPT2MLP : public nn::Module {
 public:
  GPT2MLP(const ModelConfig& cfg, std::shared_ptr<Generator> rng);
  Tensor forward(const Tensor& x);  // (B, T, C) -> (B, T, C)
  std::shared_ptr<nn::Linear> c_fc, c_proj;  // (F, C), (C, F)
  std::shared_ptr<nn::Dropout> dropout;
};

class GPT2Block : public nn::Module {
 public:
  GPT2Block(const ModelConfig& cfg, std::shared_ptr<Generator> rng);
  Tensor forward(const Tensor& x, KVCache::Layer* cache);
  std::shared_ptr<nn::LayerNorm> ln_1, ln_2;
  std::shared_ptr<GPT2Attention> attn;
  std::shared_ptr<GPT2MLP> mlp;
};

// The "transformer" submodule.
class GPT2Transformer : public nn::Module {
 public:
  GPT2Transformer(const ModelConfig& cfg, std::shared_ptr<Generator> rng);
  std::shared_ptr<nn::Embedding> wte, wpe;
  std::shared_ptr<nn::Dropout> drop;
  std::shared_ptr<nn::ModuleList<GPT2Block>> h;
  std::shared_ptr<nn::LayerNorm> ln_f;
};

class GPT2Model : public CausalLM {
 public:
  explicit GPT2Model(const ModelConfig& cfg);
  Tensor forward(const Tensor& ids, KVCache* cache = nullptr) override;
  std::vector<HfTensor> hf_tensors() const override;
  bool hf_ignored_tensor(const std::string& name) const override;
  std::string hf_canonical_name(const std::string& name) const override;

  std::shared_ptr<GPT2Transformer> transformer;
  std::shared_ptr<nn::Linear> lm_head;  // only when not tied
};

}  // namespace anvil::models
