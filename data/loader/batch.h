// Batch and BatchSource: the one currency between everything that makes training data and
// everything that consumes it (the trainer, `anvil bench`, `anvil eval`).
//
// A Batch is a micro-batch for a causal language model, four (B, T) i32 tensors:
//   ids           the input tokens
//   targets       the token each position must predict; kIgnoreIndex (-100, PyTorch's and Hugging
//                 Face's convention) where no loss is taken: prompt tokens of SFT data, padding, the
//                 surplus rows of an evaluation pass's last batch
//   position_ids  each token's position within its document (0, 1, ...); for pretraining windows
//                 cut from a token stream simply 0..T-1 in every row, as llm.c and nanoGPT do
//   document_ids  which document of its row each token belongs to (0, 1, ...); packed SFT rows
//                 hold several, a pretraining window counts as one
// The tensors live on the CPU when a source returns them; Batch::to() moves them to the model's
// device in one place. Sources build the four as views of one (4, B, T) block, so that moving a
// batch is one host-to-device copy per micro-batch, not four.
//
// A BatchSource hands out batches in a deterministic order and can say where it stands (state())
// and return there (restore()), which is what makes checkpoints resume bit-for-bit.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>

#include "core/tensor/tensor.h"

namespace anvil::data {

inline constexpr int32_t kIgnoreIndex = -100;

struct Batch {
  Tensor ids;           // (B, T) i32
  Tensor targets;       // (B, T) i32, kIgnoreIndex where no loss is taken
  Tensor position_ids;  // (B, T) i32
  Tensor document_ids;  // (B, T) i32
  Tensor block;         // (4, B, T) i32 the four above are views of (undefined if made separately)

  // A batch whose four tensors are views of one new (4, B, T) block, filled by the caller.
  static Batch allocate(int64_t batch_size, int64_t seq_len);
  int64_t batch_size() const { return ids.size(0); }
  int64_t seq_len() const { return ids.size(1); }
  // Targets that take part in the loss (not kIgnoreIndex); reads the CPU copy.
  int64_t target_count() const;
  // The same batch with every tensor on `device` (a no-op on its own device).
  Batch to(Device device) const;
  // Marks rows [first_row, B) as taking no loss (their targets become kIgnoreIndex): an evaluation
  // pass whose last batch runs past the end of the data counts only its first rows this way.
  void ignore_rows_from(int64_t first_row);
};

// Pretraining windows (B rows of T+1 consecutive tokens, row-major) to a Batch: ids = window[0, T),
// targets = window[1, T], positions 0..T-1, one document per row.
Batch batch_from_windows(const int32_t* windows, int64_t batch_size, int64_t seq_len);

class BatchSource {
 public:
  virtual ~BatchSource() = default;
  // The next micro-batch of this rank.
  virtual Batch next() = 0;
  // Where the source stands, for a checkpoint; restore() continues exactly there. Mismatches (other
  // data, seed or shape) are anvil::CheckpointError.
  virtual nlohmann::json state() const = 0;
  virtual void restore(const nlohmann::json& state) = 0;
  // Back to the first batch (each evaluation pass starts there).
  virtual void reset() = 0;
};

}  // namespace anvil::data
