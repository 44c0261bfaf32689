// Llama forward pass and its Hugging Face tensor list (HF layout equals ours: no transposes).
#include "core/models/llama.h"

#include "core/base/error.h"
#include "core/ops/ops.h"

namespace anvil::models {

LlamaAttention::LlamaAttention(const ModelConfig& cfg)
    : n_head_(cfg.n_head), n_kv_head_(cfg.n_kv_head), head_dim_(cfg.head_dim()), rope_theta_(cfg.rope_theta) {
  const int64_t C = cfg.d_model, D = head_dim_;
  q_proj = register_module("q_proj", std::make_shared<nn::Linear>(C, n_head_ * D, false));
  k_proj = register_module("k_proj", std::make_shared<nn::Linear>(C, n_kv_head_ * D, false));
  v_proj = register_module("v_proj", std::make_shared<nn::Linear>(C, n_kv_head_ * D, false));
  o_proj = register_module("o_proj", std::make_shared<nn::Linear>(n_head_ * D, C, false));
}

Tensor LlamaAttention::forward(const Tensor& x, int64_t pos_offset, KVCache::Layer* cache) {
  const int64_t B = x.size(0), T = x.size(1), D = head_dim_;
  Tensor q = q_proj->forward(x).reshape({B, T, n_head_, D}).transpose(1, 2);     // (B, Hq, T, D)
  Tensor k = k_proj->forward(x).reshape({B, T, n_kv_head_, D}).transpose(1, 2);  // (B, Hkv, T, D)
  Tensor v = v_proj->forward(x).reshape({B, T, n_kv_head_, D}).transpose(1, 2);  // (B, Hkv, T, D)
  q = ops::rope(q, pos_offset, rope_theta_);
  k = ops::rope(k, pos_offset, rope_theta_);
  if (cache) {
    if (cache->k.defined()) {
      k = ops::concat({cache->k, k}, 2);  // (B, Hkv, S, D)
      v = ops::concat({cache->v, v}, 2);
    }
    cache->k = k;
    cache->v = v;
  }
  Tensor y = ops::scaled_dot_product_attention(q, k, v, /*causal=*/true);  // (B, Hq, T, D)
  return o_proj->forward(y.transpose(1, 2).reshape({B, T, n_head_ * D}));
}

LlamaMLP::LlamaMLP(const ModelConfig& cfg) {
  gate_proj = register_module("gate_proj", std::make_shared<nn::Linear>(cfg.d_model, cfg.d_ff, false));
  up_proj = register_module("up_proj", std::make_shared<nn::Linear>(cfg.d_model, cfg.d_ff, false));
  down_proj = register_module("down_proj", std::make_shared<nn::Linear>(cfg.d_ff, cfg.d_model, false));
}

Tensor LlamaMLP::forward(const Tensor& x) {
  return down_proj->forward(ops::mul(ops::silu(gate_proj->forward(x)), up_proj->forward(x)));
}

LlamaDecoderLayer::LlamaDecoderLayer(const ModelConfig& cfg, std::shared_ptr<Generator> rng) {
  self_attn = register_module("self_attn", std::make_shared<LlamaAttention>(cfg));
  mlp = register_module("mlp", std::make_shared<LlamaMLP>(cfg));
  input_layernorm = register_module("input_layernorm", std::make_shared<nn::RMSNorm>(cfg.d_model, cfg.norm_eps));
  post_attention_layernorm =
      register_module("post_attention_layernorm", std::make_shared<nn::RMSNorm>(cfg.d_model, cfg.norm_eps));
  resid_dropout = register_module("resid_dropout", std::make_shared<nn::Dropout>(cfg.dropout, rng));
}

Tensor LlamaDecoderLayer::forward(const Tensor& x, int64_t pos_offset, KVCache::Layer* cache) {
  Tensor h = ops::add(x, resid_dropout->forward(self_attn->forward(input_layernorm->forward(x), pos_offset, cache)));
  return ops::add(h, resid_dropout->forward(mlp->forward(post_attention_layernorm->forward(h))));
}

LlamaBackbone::LlamaBackbone(const ModelConfig& cfg, std::shared_ptr<Generator> rng) {
  embed_tokens = register_module("embed_tokens", std::make_shared<nn::Embedding>(cfg.vocab_size, cfg.d_model));
  embed_dropout = register_module("embed_dropout", std::make_shared<nn::Dropout>(cfg.dropout, rng));
  layers = register_module("layers", std::make_shared<nn::ModuleList<LlamaDecoderLayer>>());
  for (int64_t i = 0; i < cfg.n_layer; ++i) layers->push_back(std::make_shared<LlamaDecoderLayer>(cfg, rng));
  norm = register_module("norm", std::make_shared<nn::RMSNorm>(cfg.d_model, cfg.norm_eps));
}

LlamaModel::LlamaModel(const ModelConfig& cfg) : CausalLM(cfg) {
  model = register_module("model", std::make_shared<LlamaBackbone>(cfg_, dropout_rng_));
  if (!cfg_.tie_embeddings)
    lm_head = register_module("lm_head", std::make_shared<nn::Linear>(cfg_.d_model, cfg_.vocab_size, false));
  name_parameters();
}

Tensor LlamaModel::forward(const Tensor& ids, KVCache* cache) {
  ANVIL_CHECK_OP(ids.dim() == 2, "[llama] ids must be (B, T), got ", ids.str());
  const int64_t T = ids.size(1);
  const int64_t pos_offset = cache ? cache->length() : 0;
  ANVIL_CHECK_AS(InputError, pos_offset + T <= cfg_.max_seq_len, "[llama] sequence of ", pos_offset + T,
                 " tokens exceeds the model's max_seq_len ", cfg_.max_seq_len);
  if (cache && cache->layers.empty()) cache->layers.resize(size_t(cfg_.n_layer));
  Tensor x = model->embed_dropout->forward(model->embed_tokens->forward(ids));  // (B, T, C)
  for (size_t i = 0; i < model->layers->size(); ++i)
    x = (*model->layers)[i].forward(x, pos_offset, cache ? &cache->layers[i] : nullptr);
  x = model->norm->forward(x);
  return lm_head ? lm_head->forward(x) : ops::linear(x, model->embed_tokens->weight);  // (B, T, V)
}

std::vector<HfTensor> LlamaModel::hf_tensors() const {
  std::vector<HfTensor> out;
  for (const auto& [name, p] : named_parameters())
    if (name.find(".adapter.") == std::string::npos) out.push_back({name, p, false});
  return out;
}

bool LlamaModel::hf_ignored_tensor(const std::string& name) const {
  // Older exports carry the rotary inverse frequencies as buffers; a tied lm_head may be written out.
  return name.find("rotary_emb.inv_freq") != std::string::npos || (cfg_.tie_embeddings && name == "lm_head.weight");
}

}  // namespace anvil::models
