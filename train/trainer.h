// The training loop: config -> model, data, optimizer -> steps with gradient accumulation, clipping,
// LR schedule, periodic evaluation, metrics, samples and checkpoints; resumes bit-for-bit.
//
// Data parallelism (docs/DISTRIBUTED.md): with a communicator of N ranks, each rank trains on its
// part of every global batch (the loader shards by rank), gradients are averaged across ranks in
// buckets on the last micro-step (distributed/ddp.h), parameters start from rank 0's, the config
// hash must match on every rank, losses are reported as the mean across ranks, and only rank 0
// prints, writes metrics and writes checkpoints. The result equals one process training on the
// same global batch (within float rounding; see docs/DISTRIBUTED.md for when it is bit-for-bit).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "distributed/communicator.h"
#include "train/config/config.h"

namespace anvil::train {

struct StepRecord {
  int64_t step = 0;  // 1-based: the number of optimizer steps done
  double loss = 0;
  double lr = 0;
  double grad_norm = 0;
};

struct TrainSummary {
  int64_t steps_done = 0;       // the step the run ended at
  int64_t resumed_from = 0;     // 0 when started fresh
  double last_train_loss = 0;
  double last_val_loss = -1;    // -1 when never evaluated
  std::vector<StepRecord> history;  // the steps this process ran
  std::vector<std::string> samples;
  int rank = 0;        // this process's rank; only rank 0 prints and writes files
  int world_size = 1;
  // The run had already reached training.max_steps: nothing was trained or written.
  bool already_complete = false;
  std::string complete_checkpoint;  // then: the checkpoint folder at that step
};

struct TrainOptions {
  // Stops after this step even if training.max_steps is larger (tests interrupt runs this way).
  int64_t stop_after_step = -1;
  bool quiet = false;  // no progress output (tests)
  // The communicator to train with. When null, train() makes one from distributed.backend and the
  // launch environment (distributed/launch.h). Tests pass one to run several trainings in one job.
  std::shared_ptr<distributed::Communicator> communicator;
};

// Trains as the config says. Every check of the user's input (config, paths, checkpoint, data,
// tokenizer) runs before the first file is written. A run whose checkpoint is already at
// training.max_steps returns at once with already_complete set, having written nothing.
TrainSummary train(const Config& config, const TrainOptions& options = {});

// What this build of the trainer can run, independent of the machine (e.g. training.precision).
// Throws ConfigError naming the key and what to change. Every file under configs/ passes.
void check_supported(const Config& cfg);

}  // namespace anvil::train
