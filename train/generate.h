// Autoregressive sampling with a KV cache: temperature, top-k and top-p (nucleus), seeded by the
// counter-based RNG so a seed always gives the same text. temperature 0 is greedy decoding.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <vector>

#include "core/models/model.h"
#include "data/bpe/tokenizer.h"

namespace anvil::train {

struct SamplingOptions {
  int64_t max_new_tokens = 64;
  float temperature = 1.0f;  // 0: greedy
  int64_t top_k = 0;         // 0: no top-k cut
  float top_p = 1.0f;        // 1: no nucleus cut
  uint64_t seed = 0;
  std::optional<uint32_t> stop_token;  // stop after emitting it (e.g. <|endoftext|>)
  int64_t vocab_limit = 0;   // > 0: only ids < vocab_limit are sampled (the tokenizer's size when it
                             // is smaller than the model's vocabulary); 0: every id of the model
};

// Checks, before anything is generated, that text sampled from a model of model_vocab ids can be
// decoded by `tok` (loaded from tokenizer_path, a tokenizer folder or file): a tokenizer with more
// ids than the model (its size counts special tokens: it is the largest id + 1) throws InputError
// naming the tokenizer file and both sizes. A smaller tokenizer is fine: returns the vocab_limit to sample
// with (the tokenizer's vocabulary size). Used by `anvil generate` and the trainer's samples.
int64_t check_tokenizer_fits_model(const data::BpeTokenizer& tok, const std::filesystem::path& tokenizer_path,
                                   int64_t model_vocab);

// Returns the new tokens (not the prompt). When the context would exceed the model's max_seq_len,
// the oldest tokens are dropped and the cache is rebuilt on the last window.
std::vector<uint32_t> generate_tokens(models::CausalLM& model, const std::vector<uint32_t>& prompt,
                                      const SamplingOptions& options);

// Picks a token from one row of logits (V) under the options; `draw` is a uniform number in [0, 1).
// With options.vocab_limit in (0, V), only the first vocab_limit logits take part.
uint32_t sample_from_logits(std::vector<float> logits, const SamplingOptions& options, float draw);

}  // namespace anvil::train
