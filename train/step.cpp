// One optimizer step (see session.h): micro-batches with gradient accumulation, gradient sync,
// clipping, the update. Plain optimizers and ZeRO-1 go through the same Optimizer calls; DDP's
// bucketed averaging (GradSync) runs from the autograd hooks during the last micro-batch's backward.
#include "core/base/error.h"
#include "core/ops/ops.h"
#include "train/session.h"

namespace anvil::train {

StepResult optimizer_step(TrainSession& s, float lr) {
  StepResult r;
  const int64_t accum = s.accum;
  double loss_sum = 0;
  const uint64_t dropout_base = s.model->dropout_rng().offset;
  for (int64_t micro = 0; micro < accum; ++micro) {
    const data::Batch batch = s.train_data->next().to(s.device);
    r.tokens += batch.batch_size() * batch.seq_len() * s.world;
    if (s.dropout_draws)
      s.model->dropout_rng().offset = dropout_base + uint64_t(micro * s.world + s.rank) * s.dropout_draws;
    // Gradients are communicated once per step: on the last micro-batch, from the hooks.
    if (s.grad_sync && micro == accum - 1) s.grad_sync->begin_sync();
    Tensor loss = s.model->loss(s.model->forward(batch.ids), batch.targets, data::kIgnoreIndex);
    loss_sum += loss.item();
    ops::mul_scalar(loss, 1.0f / float(accum)).backward();
  }
  if (s.world > 1) {
    if (s.grad_sync) s.grad_sync->finish();  // (ZeRO-1 reduce-scatters in clip_grad_norm instead)
    if (s.dropout_draws) s.model->dropout_rng().offset = dropout_base + uint64_t(accum * s.world) * s.dropout_draws;
    s.comm->all_reduce_sum(&loss_sum, 1);
    loss_sum /= double(s.world);  // the mean over ranks of each rank's micro-batch sum
  }
  r.grad_norm = s.optimizer->clip_grad_norm(float(s.cfg.training.grad_clip));
  s.optimizer->step(lr);
  s.optimizer->zero_grad();
  ++s.step;
  r.loss = loss_sum / double(accum);
  return r;
}

}  // namespace anvil::train
