// Data-parallel gradient averaging (DDP) over a Communicator.
//
// The parameters are split into buckets of about bucket_bytes, in reverse registration order
// (backward produces the last layers' gradients first). Each parameter gets a post-accumulate
// hook (core/autograd): when sync is enabled (the last micro-step of gradient accumulation) and
// every parameter of a bucket has received its gradient, the bucket's gradients are copied into
// one flat buffer and its all-reduce is started, while backward goes on with earlier layers.
// Buckets start strictly in index order, so every rank issues the same collectives in the same
// order even if hooks fire in a different order. finish() starts what is left (a parameter that
// got no gradient on this rank contributes zeros), waits for every bucket, and writes the
// averaged gradients (sum, then * 1/world) back into each parameter's .grad.
//
// On micro-steps before the last one, hooks do nothing: gradients accumulate locally and are
// communicated once per optimizer step.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/tensor/tensor.h"
#include "distributed/communicator.h"

namespace anvil::distributed {

class GradSync {
 public:
  // params: f32 CPU parameters in the model's registration order, the same on every rank.
  GradSync(std::shared_ptr<Communicator> comm, std::vector<Tensor> params, int64_t bucket_bytes);
  ~GradSync();
  GradSync(const GradSync&) = delete;
  GradSync& operator=(const GradSync&) = delete;

  // Enables communication from hooks for the next backward (call before the last micro-step).
  void begin_sync();
  // Completes the averaging; every parameter then holds the average gradient of all ranks.
  void finish();

  int64_t bucket_count() const;
  // How many buckets were started from hooks (during backward) in the last sync, as opposed to
  // by finish(): a measure of overlap, for tests and logs.
  int64_t buckets_started_in_backward() const;

 private:
  struct State;
  std::shared_ptr<State> state_;  // hooks hold a weak_ptr: they outlive nothing
};

// Copies rank root's parameter values into every rank's parameters (contiguous f32 CPU). Collective:
// the one starting point of DDP and ZeRO-1.
void broadcast_parameters(Communicator& comm, const std::vector<Tensor>& params, int root = 0);

}  // namespace anvil::distributed
