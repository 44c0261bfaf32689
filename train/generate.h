// Autoregressive sampling with a KV cache: temperature, top-k and top-p (nucleus), seeded by the
// counter-based RNG so a seed always gives the same text. temperature 0 is greedy decoding.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/models/model.h"

namespace anvil::train {

struct SamplingOptions {
  int64_t max_new_tokens = 64;
  float temperature = 1.0f;  // 0: greedy
  int64_t top_k = 0;         // 0: no top-k cut
  float top_p = 1.0f;        // 1: no nucleus cut
  uint64_t seed = 0;
  std::optional<uint32_t> stop_token;  // stop after emitting it (e.g. <|endoftext|>)
};

// Returns the new tokens (not the prompt). When the context would exceed the model's max_seq_len,
// the oldest tokens are dropped and the cache is rebuilt on the last window.
std::vector<uint32_t> generate_tokens(models::CausalLM& model, const std::vector<uint32_t>& prompt,
                                      const SamplingOptions& options);

// Picks a token from one row of logits (V) under the options; `draw` is a uniform number in [0, 1).
uint32_t sample_from_logits(std::vector<float> logits, const SamplingOptions& options, float draw);

}  // namespace anvil::train
