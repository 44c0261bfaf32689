// The training loop: config -> model, data, optimizer -> steps with gradient accumulation, clipping,
// LR schedule, periodic evaluation, metrics, samples and checkpoints; resumes bit-for-bit.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

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
};

struct TrainOptions {
  // Stops after this step even if training.max_steps is larger (tests interrupt runs this way).
  int64_t stop_after_step = -1;
  bool quiet = false;  // no progress output (tests)
};

TrainSummary train(const Config& config, const TrainOptions& options = {});

}  // namespace anvil::train
