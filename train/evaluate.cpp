// Loss without gradients over a BatchSource (see session.h): the trainer's validation and
// `anvil eval --checkpoint`.
#include "core/autograd/autograd.h"
#include "train/evaluate.h"

namespace anvil::train {

LossTotals batch_loss(models::CausalLM& model, const data::Batch& batch, Device device) {
  LossTotals t;
  t.tokens = batch.target_count();
  if (t.tokens == 0) return t;
  const data::Batch b = batch.to(device);
  NoGradGuard no_grad;
  t.loss_sum = double(model.loss(model.forward(b.ids), b.targets, data::kIgnoreIndex).item()) * double(t.tokens);
  return t;
}

double evaluate(models::CausalLM& model, data::BatchSource& source, int64_t batches, distributed::Communicator& comm,
                Device device) {
  NoGradGuard no_grad;
  model.eval();
  source.reset();
  const int64_t world = comm.world_size(), rank = comm.rank();
  // Micro-batch i*world + r of the pass is rank r's i-th: the ranks together take `batches`.
  double totals[2] = {0, 0};  // loss sum, tokens
  for (int64_t i = 0; i * world + rank < batches; ++i) {
    const LossTotals t = batch_loss(model, source.next(), device);
    totals[0] += t.loss_sum;
    totals[1] += double(t.tokens);
  }
  if (world > 1) comm.all_reduce_sum(totals, 2);
  model.train(true);
  return totals[1] > 0 ? totals[0] / totals[1] : 0.0;
}

}  // namespace anvil::train
