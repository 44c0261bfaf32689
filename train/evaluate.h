// Loss without gradients: one batch's summed loss, and the mean over a BatchSource. The trainer's
// validation and `anvil eval --checkpoint` both count tokens this way (targets equal to
// data::kIgnoreIndex take no part).
#pragma once

#include <cstdint>

#include "core/models/model.h"
#include "data/loader/batch.h"
#include "distributed/communicator.h"

namespace anvil::train {

struct LossTotals {
  double loss_sum = 0;   // sum over predicted tokens of their loss
  int64_t tokens = 0;    // predicted tokens (targets not ignored)
  double mean() const { return tokens > 0 ? loss_sum / double(tokens) : 0.0; }
};

// The loss of one batch as a sum over its predicted tokens (no gradients).
LossTotals batch_loss(models::CausalLM& model, const data::Batch& batch, Device device);

// The mean loss per predicted token over `batches` micro-batches of `source` from its start,
// without gradients and with the model in eval mode (restored to training mode after). With
// several ranks the micro-batches are shared out (rank r takes r, r + world, ...) and the totals
// summed across ranks.
double evaluate(models::CausalLM& model, data::BatchSource& source, int64_t batches, distributed::Communicator& comm,
                Device device);

}  // namespace anvil::train
