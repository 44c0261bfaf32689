// The training data loader: batches of [B, T+1] token windows from shards (data/shards/shard.h).
//
// Windows: each shard is cut into non-overlapping windows of T+1 tokens with stride T, so two
// consecutive windows share one token (inputs = window[0..T), targets = window[1..T]), as in
// llm.c. A shard shorter than T+1 tokens gives no window and is skipped. All windows of all
// shards (in sorted file order) are numbered 0..W-1.
//
// Order: the stream of windows is epoch 0's order, then epoch 1's, and so on forever; an epoch's
// order is a permutation of 0..W-1 drawn from (seed, epoch) when shuffle, else 0..W-1. Global
// batch g is stream positions [g*B*world, (g+1)*B*world) and rank r takes positions
// g*B*world + r*B + [0, B). Hence ranks are disjoint, the union over ranks equals what one process
// with batch B*world sees in the same order, and a batch simply continues into the next epoch when
// an epoch runs out (nothing is dropped). A batch is a pure function of (options, g), which makes
// prefetching, state() and restore() exact: the state is g.
//
// Prefetch: a background thread builds batch g+1 while the caller uses batch g. Errors met while
// building (a token id >= vocab_size) are rethrown by the next() that asks for that batch.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/loader/batch.h"

namespace anvil::data {

struct LoaderOptions {
  std::string pattern;  // glob of shard files, e.g. "data/tinyshakespeare/train_*.bin"
  int64_t batch_size = 0;  // B, windows per rank per batch
  int64_t seq_len = 0;     // T
  int rank = 0;
  int world_size = 1;
  uint64_t seed = 0;
  bool shuffle = true;
  int64_t vocab_size = 0;  // ids must be < vocab_size; 0 = no check
  bool prefetch = true;
  bool verify_checksums = true;  // re-hash every shard when opening it
};

struct TokenBatch {
  int64_t batch_size = 0, seq_len = 0;
  std::vector<int32_t> tokens;  // (B, T+1) row-major windows
  // Row b's inputs are tokens[b*(T+1) + t] and targets tokens[b*(T+1) + t + 1], t in [0, T).
};

// The pretraining BatchSource: windows of token shards (see above).
class TokenLoader final : public BatchSource {
 public:
  // Opens every shard matching the pattern. Bad options are anvil::ConfigError; an empty glob, a
  // corrupt shard or no window at all are anvil::DataError.
  explicit TokenLoader(LoaderOptions options);
  ~TokenLoader();
  TokenLoader(TokenLoader&&) noexcept;
  TokenLoader& operator=(TokenLoader&&) noexcept;

  // The next batch of this rank: its windows as ids/targets (batch_from_windows).
  Batch next() override;
  // The same position's raw [B, T+1] windows (what next() is made from; tests read these).
  TokenBatch next_windows();
  // Where the loader stands, for a checkpoint: {"next_batch", "windows_consumed", "epoch", ...}.
  // The same on every rank.
  nlohmann::json state() const override;
  // Continues exactly where state() was taken. The seed, shuffle, seq_len and dataset must match;
  // the batch size or world size may change when the windows consumed stay a whole number of
  // global batches. Mismatches are anvil::CheckpointError.
  void restore(const nlohmann::json& state) override;
  void reset() override;  // back to batch 0 (for evaluation passes)

  int64_t windows_per_epoch() const;  // W
  // Global batches that cover one epoch once (ceil(W / (B*world))): an evaluation pass length.
  int64_t batches_per_epoch() const;
  int64_t epoch() const;  // epoch of the first window of the next batch
  int64_t shard_count() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace anvil::data
