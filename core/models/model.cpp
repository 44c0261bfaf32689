// Config validation, the shared CausalLM pieces (losses, naming) and the model factory with the
// GPT-2 / Llama initialization: every matrix (Linear weights, embeddings) ~ N(0, init_std); for
// GPT-2 the residual projections (attn.c_proj, mlp.c_proj) use init_std / sqrt(2 * n_layer) so the
// residual stream's variance does not grow with depth; biases 0, norm scales 1 (their placeholders).
#include "core/models/model.h"

#include <cmath>

#include "core/autograd/autograd.h"
#include "core/base/error.h"
#include "core/models/gpt2.h"
#include "core/models/llama.h"
#include "core/ops/ops.h"

namespace anvil::models {

void validate_config(const ModelConfig& c, const std::string& where) {
  // Messages are concatenated only on failure (and without `"literal" + std::string`, which GCC 12
  // misreads as an overlapping memcpy under -Wrestrict).
  auto check = [&](bool ok, const char* field, const auto&... why) {
    if (!ok) throw ConfigError(detail::concat(where, ": model.", field, " ", why...));
  };
  check(c.arch == "gpt2" || c.arch == "llama", "arch", "is '", c.arch, "', expected gpt2 or llama");
  check(c.n_layer > 0, "n_layer", "must be positive, got ", c.n_layer);
  check(c.n_head > 0, "n_head", "must be positive, got ", c.n_head);
  check(c.d_model > 0, "d_model", "must be positive, got ", c.d_model);
  check(c.d_ff > 0, "d_ff", "must be positive, got ", c.d_ff);
  check(c.vocab_size > 0, "vocab_size", "must be positive, got ", c.vocab_size);
  check(c.max_seq_len > 0, "max_seq_len", "must be positive, got ", c.max_seq_len);
  check(c.d_model % c.n_head == 0, "n_head", "(", c.n_head, ") must divide d_model (", c.d_model, ")");
  check(c.n_kv_head > 0 && c.n_head % c.n_kv_head == 0, "n_kv_head", "(", c.n_kv_head,
        ") must be positive and divide n_head (", c.n_head, ")");
  if (c.arch == "gpt2")
    check(c.n_kv_head == c.n_head, "n_kv_head", "must equal n_head for gpt2 (no grouped-query attention)");
  if (c.arch == "llama") check(c.head_dim() % 2 == 0, "d_model", "/ n_head must be even for rotary embeddings");
  check(c.norm_eps > 0.0, "norm_eps", "must be positive");
  check(c.dropout >= 0.0 && c.dropout < 1.0, "dropout", "must be in [0, 1)");
  check(c.init_std > 0.0, "init_std", "must be positive");
  check(c.rope_theta > 0.0, "rope_theta", "must be positive");
}

Shape HfTensor::hf_shape() const {
  Shape s = param.shape();
  if (transposed) std::swap(s[0], s[1]);
  return s;
}

CausalLM::CausalLM(ModelConfig cfg) : cfg_(std::move(cfg)), dropout_rng_(std::make_shared<Generator>(0)) {}

Tensor CausalLM::loss(const Tensor& logits, const Tensor& targets, int64_t ignore_index) const {
  ANVIL_CHECK_OP(logits.dim() == 3 && targets.dim() == 2 && logits.size(0) == targets.size(0) &&
                     logits.size(1) == targets.size(1),
                 "[loss] logits ", logits.str(), " and targets ", targets.str(), " must be (B, T, V) and (B, T)");
  const int64_t n = logits.size(0) * logits.size(1);
  return ops::cross_entropy(logits.reshape({n, logits.size(2)}), targets.reshape({n}), ignore_index);
}

Tensor CausalLM::next_token_loss(const Tensor& logits, const Tensor& ids) const {
  const int64_t T = ids.size(1);
  ANVIL_CHECK_OP(T >= 2, "[next_token_loss] needs at least 2 tokens per row, got ids ", ids.str());
  return loss(logits.slice(1, 0, T - 1), ids.slice(1, 1, T));
}

bool CausalLM::hf_ignored_tensor(const std::string&) const { return false; }

void CausalLM::name_parameters() {
  for (auto& [name, p] : named_parameters()) p.set_name(name);
}

std::unique_ptr<CausalLM> make_uninitialized_model(const ModelConfig& cfg) {
  validate_config(cfg, "model config");
  if (cfg.arch == "gpt2") return std::make_unique<GPT2Model>(cfg);
  return std::make_unique<LlamaModel>(cfg);
}

std::unique_ptr<CausalLM> make_model(const ModelConfig& cfg, Generator& init_rng) {
  auto model = make_uninitialized_model(cfg);
  NoGradGuard no_grad;
  const float residual_std = float(cfg.init_std) / std::sqrt(2.0f * float(cfg.n_layer));
  for (auto& [name, p] : model->named_parameters()) {
    if (p.dim() != 2) continue;  // biases stay 0, norm scales stay 1
    const bool residual_proj = cfg.arch == "gpt2" && name.size() >= 13 &&
                               name.compare(name.size() - 13, 13, "c_proj.weight") == 0;
    Tensor values = Tensor::randn(p.shape(), init_rng, residual_proj ? residual_std : float(cfg.init_std));
    ops::copy_(p, values);
  }
  return model;
}

}  // namespace anvil::models
