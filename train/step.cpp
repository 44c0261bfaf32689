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
  // One CUDA device: the losses are summed on the device and the step never waits for it (the
  // trainer reads the results later). With several ranks the loss sum is all-reduced on the host.
  const bool on_device = s.device.is_cuda() && s.world == 1;
  Tensor device_loss_sum;
  const uint64_t dropout_base = s.model->dropout_rng().offset;
  for (int64_t micro = 0; micro < accum; ++micro) {
    const data::Batch batch = s.train_data->next().to(s.device);
    r.tokens += batch.batch_size() * batch.seq_len() * s.world;
    if (s.dropout_draws)
      s.model->dropout_rng().offset = dropout_base + uint64_t(micro * s.world + s.rank) * s.dropout_draws;
    // Gradients are communicated once per step: on the last micro-batch, from the hooks.
    if (s.grad_sync && micro == accum - 1) s.grad_sync->begin_sync();
    Tensor loss = s.model->loss(s.model->forward(batch.ids), batch.targets, data::kIgnoreIndex);
    if (on_device) {
      const Tensor l = loss.detach().reshape({1});
      device_loss_sum = device_loss_sum.defined() ? ops::add(device_loss_sum, l) : l;
    } else {
      loss_sum += loss.item();
    }
    ops::mul_scalar(loss, 1.0f / float(accum)).backward();
  }
  if (s.world > 1) {
    if (s.grad_sync) s.grad_sync->finish();  // (ZeRO-1 reduce-scatters in clip_grad_norm instead)
    if (s.dropout_draws) s.model->dropout_rng().offset = dropout_base + uint64_t(accum * s.world) * s.dropout_draws;
    s.comm->all_reduce_sum(&loss_sum, 1);
    loss_sum /= double(s.world);  // the mean over ranks of each rank's micro-batch sum
  }
  if (on_device) {
    r.grad_norm_on_device = s.optimizer->clip_grad_norm_deferred(float(s.cfg.training.grad_clip));
    r.loss_on_device = ops::mul_scalar(device_loss_sum, 1.0f / float(accum));
  } else {
    r.grad_norm = s.optimizer->clip_grad_norm(float(s.cfg.training.grad_clip));
    r.loss = loss_sum / double(accum);
  }
  s.optimizer->step(lr);
  s.optimizer->zero_grad();
  ++s.step;
  return r;
}

}  // namespace anvil::train
