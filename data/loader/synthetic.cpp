// SyntheticTokens; see synthetic.h.
#include "data/loader/synthetic.h"

#include <vector>

#include "core/base/error.h"
#include "core/base/rng.h"

namespace anvil::data {

namespace {
// Batch i's words start at this stride in the seed space, so batches do not overlap.
constexpr uint64_t kBatchSeedStride = 0x9E3779B97F4A7C15ull;
}  // namespace

SyntheticTokens::SyntheticTokens(uint64_t seed, int64_t batch_size, int64_t seq_len, int64_t vocab_size)
    : seed_(seed), batch_size_(batch_size), seq_len_(seq_len), vocab_size_(vocab_size) {
  ANVIL_CHECK_AS(ConfigError, batch_size > 0 && seq_len > 0 && vocab_size > 0,
                 "synthetic tokens: batch size, sequence length and vocabulary must be positive, got ", batch_size,
                 ", ", seq_len, ", ", vocab_size);
}

Batch SyntheticTokens::next() {
  const int64_t n = batch_size_ * (seq_len_ + 1);
  std::vector<int32_t> windows(static_cast<size_t>(n));
  const uint64_t stream = seed_ + uint64_t(next_batch_) * kBatchSeedStride;
  for (int64_t i = 0; i < n; ++i) windows[size_t(i)] = int32_t(Philox4x32::word(stream, uint64_t(i)) % uint64_t(vocab_size_));
  ++next_batch_;
  return batch_from_windows(windows.data(), batch_size_, seq_len_);
}

nlohmann::json SyntheticTokens::state() const {
  return {{"kind", "synthetic"},       {"next_batch", next_batch_}, {"seed", seed_},
          {"batch_size", batch_size_}, {"seq_len", seq_len_},        {"vocab_size", vocab_size_}};
}

void SyntheticTokens::restore(const nlohmann::json& state) {
  ANVIL_CHECK_AS(CheckpointError, state.value("kind", "") == "synthetic" && state.contains("next_batch"),
                 "synthetic tokens: the saved state is not a synthetic source's: ", state.dump());
  ANVIL_CHECK_AS(CheckpointError, state.value("seed", uint64_t(0)) == seed_, "synthetic tokens: saved seed ",
                 state.value("seed", uint64_t(0)), " differs from ", seed_);
  for (const auto& [key, mine] : {std::pair<const char*, int64_t>{"batch_size", batch_size_},
                                  {"seq_len", seq_len_},
                                  {"vocab_size", vocab_size_}})
    ANVIL_CHECK_AS(CheckpointError, state.value(key, int64_t(-1)) == mine, "synthetic tokens: saved ", key, " ",
                   state.value(key, int64_t(-1)), " differs from ", mine);
  next_batch_ = state.at("next_batch").get<int64_t>();
}

}  // namespace anvil::data
