// SyntheticTokens: a BatchSource of uniform random token windows, for measuring speed before any
// data is prepared (`anvil bench`). Batch i is a pure function of (seed, i) through the Philox
// stream, so its state is one counter and two runs see the same tokens.
#pragma once

#include <cstdint>

#include "data/loader/batch.h"

namespace anvil::data {

class SyntheticTokens final : public BatchSource {
 public:
  SyntheticTokens(uint64_t seed, int64_t batch_size, int64_t seq_len, int64_t vocab_size);

  Batch next() override;
  nlohmann::json state() const override;  // {"kind": "synthetic", "next_batch": i, seed and shape}
  void restore(const nlohmann::json& state) override;
  void reset() override { next_batch_ = 0; }

 private:
  uint64_t seed_;
  int64_t batch_size_, seq_len_, vocab_size_;
  int64_t next_batch_ = 0;
};

}  // namespace anvil::data
