// Causal language models: the config, the CausalLM interface, the KV cache and the factory.
//
// Two architectures, with parameter names equal to Hugging Face's so that checkpoints map 1:1:
//   gpt2  (gpt2.h):  learned positions, LayerNorm, fused qkv, GELU(tanh) MLP, biases, tied lm_head.
//   llama (llama.h): RoPE, RMSNorm, grouped-query attention, SwiGLU MLP, no biases.
// Each model lists its HF tensors (hf_tensors()): name, the parameter, and whether HF stores it
// transposed (GPT-2's Conv1D keeps weights as (in, out); we keep (out, in) like nn.Linear and
// transpose on load/save/export). The HF loader, the exporter and `anvil eval --grads-out` all go
// through that one list.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/base/rng.h"
#include "core/nn/module.h"

namespace anvil::models {

// A model's shape and the few numbers that fix its behaviour: the one definition, used by the
// models, the Hugging Face loader and (as the `model:` section of a run's YAML) the trainer. The
// defaults are the CPU demo's (configs/tiny.yaml). d_ff 0 means "derived from d_model" and is
// resolved by the config loader (train/config); a model needs it positive.
struct ModelConfig {
  std::string arch = "gpt2";  // "gpt2" | "llama"
  int64_t n_layer = 4;
  int64_t n_head = 4;
  int64_t n_kv_head = 4;  // == n_head for GPT-2; < n_head for grouped-query Llama
  int64_t d_model = 128;
  int64_t d_ff = 0;       // the MLP's hidden size; 0 = derived (4*d_model for gpt2, llama's 8/3 rule)
  int64_t vocab_size = 4096;
  int64_t max_seq_len = 256;  // GPT-2: size of the position table; Llama: longest sequence accepted
  double norm_eps = 1e-5;
  double rope_theta = 10000.0;  // Llama only
  bool tie_embeddings = true;   // lm_head shares the token embedding
  double dropout = 0.0;         // embedding and residual dropout (training mode only)
  double init_std = 0.02;

  bool operator==(const ModelConfig&) const = default;
  int64_t head_dim() const { return d_model / n_head; }
};

// Throws ConfigError naming the field when the config is inconsistent (heads not dividing d_model,
// unknown arch, non-positive sizes, odd head dim for RoPE, ...). `where` prefixes messages.
void validate_config(const ModelConfig& cfg, const std::string& where);

// Per-layer keys and values of the tokens seen so far, for incremental decoding. Each step's K/V
// are appended along the time axis; the next step's positions start at length().
struct KVCache {
  struct Layer {
    Tensor k;  // (B, Hkv, S, D), RoPE already applied for Llama
    Tensor v;  // (B, Hkv, S, D)
  };
  std::vector<Layer> layers;
  int64_t length() const { return layers.empty() || !layers[0].k.defined() ? 0 : layers[0].k.size(2); }
  void clear() { layers.clear(); }
};

// One tensor of the Hugging Face layout.
struct HfTensor {
  std::string name;         // HF name, e.g. "transformer.h.0.attn.c_attn.weight"
  Tensor param;             // our parameter
  bool transposed = false;  // HF stores param^T (GPT-2 Conv1D weights)
  Shape hf_shape() const;
};

class CausalLM : public nn::Module {
 public:
  explicit CausalLM(ModelConfig cfg);
  const ModelConfig& config() const { return cfg_; }

  // ids (B, T) i32/i64 -> logits (B, T, V) f32. With a cache, the ids continue the cached tokens
  // (positions start at cache->length()) and the cache is extended.
  virtual Tensor forward(const Tensor& ids, KVCache* cache = nullptr) = 0;

  // Mean cross-entropy of logits (B, T, V) against targets (B, T), skipping ignore_index.
  Tensor loss(const Tensor& logits, const Tensor& targets, int64_t ignore_index = -100) const;
  // Hugging Face's language-model loss: logits[:, :-1] predict ids[:, 1:] (needs T >= 2).
  Tensor next_token_loss(const Tensor& logits, const Tensor& ids) const;

  // The parameters under their HF names and layouts (tied lm_head not listed separately).
  virtual std::vector<HfTensor> hf_tensors() const = 0;
  // Checkpoint tensors that are buffers, not parameters (GPT-2's attn.bias mask): skipped on load.
  virtual bool hf_ignored_tensor(const std::string& name) const;
  // Maps variant spellings found in the wild to hf_tensors() names (the original GPT-2 checkpoints
  // omit the "transformer." prefix). Identity by default.
  virtual std::string hf_canonical_name(const std::string& name) const { return name; }

  // Dropout's random stream: one (seed, offset) for the whole model; checkpoints save it.
  Generator& dropout_rng() { return *dropout_rng_; }

 protected:
  // Sets every parameter's tensor name to its dotted path (for messages); call at the end of a
  // subclass constructor.
  void name_parameters();

  ModelConfig cfg_;
  std::shared_ptr<Generator> dropout_rng_;
};

// Builds a model with freshly initialized weights (GPT-2 / Llama schemes, see make_model in
// model.cpp). Throws ConfigError on an invalid config.
std::unique_ptr<CausalLM> make_model(const ModelConfig& cfg, Generator& init_rng);
// Builds a model whose parameters hold placeholder values (for loading a checkpoint into).
std::unique_ptr<CausalLM> make_uninitialized_model(const ModelConfig& cfg);

}  // namespace anvil::models
