// ZeRO stage 1 for AdamW: the optimizer moments are sharded across ranks.
//
// The parameters, flattened in the optimizer's order (groups, then parameters), form one index
// space of N elements, padded to world * S with S = ceil(N / world); rank r owns [r*S, (r+1)*S).
// A step (the Optimizer interface: clip_grad_norm, step, zero_grad):
//   1. every rank's local gradients (accumulated over its micro-batches) go into one flat buffer,
//      reduce-scattered: rank r receives the sum of its shard, scaled by 1/world (the average);
//   2. the global gradient norm is the square root of the all-reduced per-shard sums of squares,
//      and the shard is clipped with torch's rule (max_norm / (norm + 1e-6)), as optim::clip does;
//   3. rank r runs AdamW (ops::adamw_step_, the same kernel as the plain optimizer) on its
//      shard only, each segment with its parameter group's weight decay;
//   4. the updated shards are all-gathered into every rank's parameters; gradients are dropped.
// clip_grad_norm() does 1 and 2 (collective), step() does 3 and 4 (and 1 and 2 first, without
// clipping, when clip_grad_norm() was not called since the last step).
// Memory: each rank keeps 2*S moment floats instead of 2*N, plus a flat gradient buffer.
//
// Checkpoints hold the full moments under the plain AdamW's names ("m.<param>", "v.<param>"):
// state_tensors() all-gathers them (every rank must call it), load_state() takes this rank's
// shard of a full state. So a checkpoint moves freely between ZeRO and plain AdamW and between
// world sizes.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "distributed/communicator.h"
#include "optim/optimizer.h"

namespace anvil::distributed {

class ZeroAdamW final : public optim::Optimizer {
 public:
  ZeroAdamW(std::shared_ptr<Communicator> comm, std::vector<optim::ParamGroup> groups, float beta1, float beta2,
            float eps);

  // Steps 1-2 above: averages the gradients into this rank's shard, returns the global norm before
  // clipping (as optim::clip_grad_norm does) and clips the shard when max_norm > 0. Collective.
  float clip_grad_norm(float max_norm) override;
  // Steps 3-4 with learning rate lr (1-2 first, unclipped, if clip_grad_norm() was not called).
  // Collective.
  void step(float lr) override;

  // The full moments, as the plain AdamW names and shapes them. Collective.
  std::map<std::string, Tensor> state_tensors() const override;
  nlohmann::json state_scalars() const override;
  // Takes this rank's shard of a full saved state; a missing or misshapen tensor, or another
  // optimizer's state, is an anvil::CheckpointError naming it.
  void load_state(const std::map<std::string, Tensor>& tensors, const nlohmann::json& scalars) override;

  int64_t numel() const { return total_; }        // N
  int64_t shard_size() const { return shard_; }   // S

 private:
  struct Segment {
    Tensor param;
    int64_t offset = 0;  // in the flat index space
    float weight_decay = 0;
  };
  std::shared_ptr<Communicator> comm_;
  std::vector<Segment> segments_;
  int64_t total_ = 0, shard_ = 0, lo_ = 0, hi_ = 0;  // this rank owns [lo_, hi_)
  // On the parameters' device (NCCL reduces device memory): m_, v_, shard_grad_, shard_param_ S f32
  // each; flat_grad_ and flat_param_ world * S.
  Tensor m_, v_, shard_grad_, shard_param_, flat_grad_;
  mutable Tensor flat_param_;  // scratch for all-gathers (state_tensors() uses it too)
  float beta1_, beta2_, eps_;
  bool shard_grad_ready_ = false;  // steps 1-2 done for the coming step()
};

}  // namespace anvil::distributed
