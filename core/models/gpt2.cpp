// GPT-2 forward pass and its Hugging Face tensor list (see gpt2.h for the Conv1D transpose).
#include "core/models/gpt2.h"

#include "core/base/error.h"
#include "core/ops/ops.h"

namespace anvil::models {

GPT2Attention::GPT2Attention(const ModelConfig& cfg, std::shared_ptr<Generator> rng) : n_head_(cfg.n_head) {
  c_attn = register_module("c_attn", std::make_shared<nn::Linear>(cfg.d_model, 3 * cfg.d_model));
  c_proj = register_module("c_proj", std::make_shared<nn::Linear>(cfg.d_model, cfg.d_model));
  resid_dropout = register_module("resid_dropout", std::make_shared<nn::Dropout>(cfg.dropout, rng));
}

Tensor GPT2Attention::forward(const Tensor& x, KVCache::Layer* cache) {
  const int64_t B = x.size(0), T = x.size(1), C = x.size(2), H = n_head_, D = C / H;
  Tensor qkv = c_attn->forward(x);  // (B, T, 3C)
  auto heads = [&](int64_t i) {     // i-th third -> (B, H, T, D)
    return qkv.slice(2, i * C, (i + 1) * C).reshape({B, T, H, D}).transpose(1, 2);
  };
  Tensor q = heads(0), k = heads(1), v = heads(2);
  if (cache) {
    if (cache->k.defined()) {
      k = ops::concat({cache->k, k}, 2);  // (B, H, S, D)
      v = ops::concat({cache->v, v}, 2);
    }
    cache->k = k;
    cache->v = v;
  }
  Tensor y = ops::scaled_dot_product_attention(q, k, v, /*causal=*/true);  // (B, H, T, D)
  y = y.transpose(1, 2).reshape({B, T, C});
  return resid_dropout->forward(c_proj->forward(y));
}

GPT2MLP::GPT2MLP(const ModelConfig& cfg, std::shared_ptr<Generator> rng) {
  c_fc = register_module("c_fc", std::make_shared<nn::Linear>(cfg.d_model, cfg.d_ff));
  c_proj = register_module("c_proj", std::make_shared<nn::Linear>(cfg.d_ff, cfg.d_model));
  dropout = register_module("dropout", std::make_shared<nn::Dropout>(cfg.dropout, rng));
}

Tensor GPT2MLP::forward(const Tensor& x) { return dropout->forward(c_proj->forward(ops::gelu(c_fc->forward(x)))); }

GPT2Block::GPT2Block(const ModelConfig& cfg, std::shared_ptr<Generator> rng) {
  ln_1 = register_module("ln_1", std::make_shared<nn::LayerNorm>(cfg.d_model, cfg.norm_eps));
  attn = register_module("attn", std::make_shared<GPT2Attention>(cfg, rng));
  ln_2 = register_module("ln_2", std::make_shared<nn::LayerNorm>(cfg.d_model, cfg.norm_eps));
  mlp = register_module("mlp", std::make_shared<GPT2MLP>(cfg, rng));
}

Tensor GPT2Block::forward(const Tensor& x, KVCache::Layer* cache) {
  Tensor h = ops::add(x, attn->forward(ln_1->forward(x), cache));
  return ops::add(h, mlp->forward(ln_2->forward(h)));
}

GPT2Transformer::GPT2Transformer(const ModelConfig& cfg, std::shared_ptr<Generator> rng) {
  wte = register_module("wte", std::make_shared<nn::Embedding>(cfg.vocab_size, cfg.d_model));
  wpe = register_module("wpe", std::make_shared<nn::Embedding>(cfg.max_seq_len, cfg.d_model));
  drop = register_module("drop", std::make_shared<nn::Dropout>(cfg.dropout, rng));
  h = register_module("h", std::make_shared<nn::ModuleList<GPT2Block>>());
  for (int64_t i = 0; i < cfg.n_layer; ++i) h->push_back(std::make_shared<GPT2Block>(cfg, rng));
  ln_f = register_module("ln_f", std::make_shared<nn::LayerNorm>(cfg.d_model, cfg.norm_eps));
}

GPT2Model::GPT2Model(const ModelConfig& cfg) : CausalLM(cfg) {
  transformer = register_module("transformer", std::make_shared<GPT2Transformer>(cfg_, dropout_rng_));
  if (!cfg_.tie_embeddings)
    lm_head = register_module("lm_head", std::make_shared<nn::Linear>(cfg_.d_model, cfg_.vocab_size, false));
  name_parameters();
}

Tensor GPT2Model::forward(const Tensor& ids, KVCache* cache) {
  ANVIL_CHECK_OP(ids.dim() == 2, "[gpt2] ids must be (B, T), got ", ids.str());
  const int64_t T = ids.size(1);
  const int64_t pos_offset = cache ? cache->length() : 0;
  ANVIL_CHECK_AS(InputError, pos_offset + T <= cfg_.max_seq_len, "[gpt2] sequence of ", pos_offset + T,
                 " tokens exceeds the model's max_seq_len (n_positions) ", cfg_.max_seq_len);
  if (cache && cache->layers.empty()) cache->layers.resize(size_t(cfg_.n_layer));
  Tensor positions = transformer->wpe->weight.slice(0, pos_offset, pos_offset + T);  // (T, C)
  Tensor x = ops::add(transformer->wte->forward(ids), positions);                    // (B, T, C)
  x = transformer->drop->forward(x);
  for (size_t i = 0; i < transformer->h->size(); ++i)
    x = (*transformer->h)[i].forward(x, cache ? &cache->layers[i] : nullptr);
  x = transformer->ln_f->forward(x);
  return lm_head ? lm_head->forward(x) : ops::linear(x, transformer->wte->weight);  // (B, T, V)
}

std::vector<HfTensor> GPT2Model::hf_tensors() const {
  std::vector<HfTensor> out;
  for (const auto& [name, p] : named_parameters()) {
    if (name.find(".adapter.") != std::string::npos) continue;  // adapters are not part of HF's layout
    // Conv1D weights: the 2-D weights inside the blocks (embeddings and lm_head are not Conv1D).
    const bool conv1d = p.dim() == 2 && name.rfind("transformer.h.", 0) == 0;
    out.push_back({name, p, conv1d});
  }
  return out;
}

bool GPT2Model::hf_ignored_tensor(const std::string& name) const {
  auto ends_with = [&](const std::string& suffix) {
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  // The causal-mask buffers, and the tied lm_head some exporters write out anyway.
  return ends_with(".attn.bias") || ends_with(".attn.masked_bias") || (cfg_.tie_embeddings && name == "lm_head.weight");
}

std::string GPT2Model::hf_canonical_name(const std::string& name) const {
  for (const char* root : {"h.", "wte.", "wpe.", "ln_f."})
    if (name.rfind(root, 0) == 0) return "transformer." + name;
  return name;
}

}  // namespace anvil::models
