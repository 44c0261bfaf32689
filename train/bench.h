// `anvil bench CONFIG`: the speed and memory of training steps of the configured model on synthetic
// tokens (no data files), so that a number can be measured before any data is prepared and compared
// across machines and kernel choices.
#pragma once

#include <cstdint>
#include <string>

#include "train/config/config.h"

namespace anvil::train {

struct BenchOptions {
  int64_t steps = 10;        // timed optimizer steps
  int64_t warmup_steps = 2;  // untimed steps first (allocator caches, page faults, thread pools)
  double peak_tflops = 0;    // the device's dense peak for MFU; 0 = unknown (MFU not reported)
  bool quiet = false;        // no per-step progress on stderr
};

struct BenchResult {
  std::string device;
  int64_t parameters = 0;
  int64_t tokens_per_step = 0;  // global batch: micro_batch_size * seq_len * accumulation steps
  double flops_per_token = 0;   // 6 * parameters + 6 * n_layer * seq_len * d_model (llm.c's count)
  double step_seconds_median = 0;
  double step_seconds_min = 0;
  double tokens_per_second = 0;  // tokens_per_step / median step time
  double achieved_tflops = 0;    // flops_per_token * tokens_per_second
  double mfu = -1;               // achieved / peak; -1 when the peak is unknown
  int64_t peak_memory_bytes = 0;  // CPU: peak resident set size; CUDA: the caching allocator's peak
  double final_loss = 0;          // a sanity figure: the loss of the last step
};

// Builds the model of cfg (fresh weights; model.init_from is honoured), runs warmup + timed steps
// of the trainer's optimizer step (forward, backward, clipping, update) on uniform random tokens
// (data::SyntheticTokens), and measures them. Reports each step on stderr unless quiet.
BenchResult run_bench(Config cfg, const BenchOptions& options);

}  // namespace anvil::train
