// Llama (Touvron et al. 2023) with Hugging Face's module tree and names:
//   model.embed_tokens, model.layers.N.{input_layernorm, self_attn.{q,k,v,o}_proj,
//   post_attention_layernorm, mlp.{gate,up,down}_proj}, model.norm, lm_head.
// Pre-norm blocks with RMSNorm; rotary position embeddings (rotate-half layout, as HF) on q and k;
// grouped-query attention (n_kv_head key/value heads shared by n_head / n_kv_head query heads);
// SwiGLU MLP down(silu(gate(x)) * up(x)). No biases anywhere. With tie_embeddings the lm_head is
// embed_tokens' matrix and is not a separate parameter.
#pragma once

#include "core/models/model.h"
#include "core/nn/layers.h"

namespace anvil::models {

class LlamaAttention : public nn::Module {
 public:
  explicit LlamaAttention(const ModelConfig& cfg);
  // x (B, T, C), positions start at pos_offset -> (B, T, C)
  Tensor forward(const Tensor& x, int64_t pos_offset, KVCache::Layer* cache);
  std::shared_ptr<nn::Linear> q_proj, k_proj, v_proj, o_proj;  // (Hq D, C), (Hkv D, C) x2, (C, Hq D)

 private:
  int64_t n_head_, n_kv_head_, head_dim_;
  float rope_theta_;
};

class LlamaMLP : public nn::Module {
 public:
  explicit LlamaMLP(const ModelConfig& cfg);
  Tensor forward(const Tensor& x);
  std::shared_ptr<nn::Linear> gate_proj, up_proj, down_proj;  // (F, C), (F, C), (C, F)
};

class LlamaDecoderLayer : public nn::Module {
 public:
  LlamaDecoderLayer(const ModelConfig& cfg, std::shared_ptr<Generator> rng);
  Tensor forward(const Tensor& x, int64_t pos_offset, KVCache::Layer* cache);
  std::shared_ptr<nn::RMSNorm> input_layernorm, post_attention_layernorm;
  std::shared_ptr<LlamaAttention> self_attn;
  std::shared_ptr<LlamaMLP> mlp;
  std::shared_ptr<nn::Dropout> resid_dropout;
};

// The "model" submodule.
class LlamaBackbone : public nn::Module {
 public:
  LlamaBackbone(const ModelConfig& cfg, std::shared_ptr<Generator> rng);
  std::shared_ptr<nn::Embedding> embed_tokens;
  std::shared_ptr<nn::Dropout> embed_dropout;
  std::shared_ptr<nn::ModuleList<LlamaDecoderLayer>> layers;
  std::shared_ptr<nn::RMSNorm> norm;
};

class LlamaModel : public CausalLM {
 public:
  explicit LlamaModel(const ModelConfig& cfg);
  Tensor forward(const Tensor& ids, KVCache* cache = nullptr) override;
  std::vector<HfTensor> hf_tensors() const override;
  bool hf_ignored_tensor(const std::string& name) const override;

  std::shared_ptr<LlamaBackbone> model;
  std::shared_ptr<nn::Linear> lm_head;  // only when not tied
};

}  // namespace anvil::models
