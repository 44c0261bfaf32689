// ZeRO stage 1 for AdamW: the optimizer moments are sharded across ranks.
//
// The parameters, flattened in the optimizer's order (groups, then parameters), form one index
// space of N elements, padded to world * S with S = ceil(N / world); rank r owns [r*S, (r+1)*S).
// A step:
//   1. every rank's local gradients (accumulated over its micro-batches) go into one flat buffer,
//      reduce-scattered: rank r receives the sum of its shard, scaled by 1/world (the average);
//   2. the global gradient norm is the square root of the all-reduced per-shard sums of squares,
//      and the shard is clipped with torch's rule (max_norm / (norm + 1e-6)), as optim::clip does;
//   3. rank r runs AdamW (optim/update_kernels.h, the same kernel as the plain optimizer) on its
//      shard only, each segment with its parameter group's weight decay;
//   4. the updated shards are all-gathered into every rank's parameters; gradients are dropped.
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

class ZeroAdamW {
 public:
  ZeroAdamW(std::shared_ptr<Communicator> comm, std::vector<optim::ParamGroup> groups, float beta1, float beta2,
            float eps);

  // Steps 1-4 above with learning rate lr; max_norm <= 0 disables clipping. Returns the global
  // gradient norm before clipping (as optim::clip_grad_norm does). Collective.
  float step(float lr, float max_norm);

  // The full moments, as the plain AdamW names and shapes them. Collective.
  std::map<std::string, Tensor> state_tensors();
  nlohmann::json state_scalars() const;
  // Takes this rank's shard of a full saved state; a missing or misshapen tensor, or another
  // optimizer's state, is an anvil::CheckpointError naming it.
  void load_state(const std::map<std::string, Tensor>& tensors, const nlohmann::json& scalars);

  int64_t step_count() const { return step_; }
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
  std::vector<float> m_, v_;                          // S each
  std::vector<float> flat_grad_, flat_param_, shard_grad_, shard_param_;
  float beta1_, beta2_, eps_;
  int64_t step_ = 0;
};

}  // namespace anvil::distributed
