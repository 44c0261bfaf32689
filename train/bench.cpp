#include "train/bench.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <vector>

#include "core/base/error.h"
#include "core/tensor/caching_allocator.h"
#include "core/tensor/runtime.h"
#include "data/loader/synthetic.h"
#include "train/session.h"

namespace anvil::train {

namespace {

using Clock = std::chrono::steady_clock;

int64_t peak_rss_bytes() {
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  return int64_t(usage.ru_maxrss) * 1024;  // Linux reports kilobytes
}

// Progress on stderr: a line redrawn in place on a terminal, one plain line per step otherwise
// (logs), so a long benchmark is never silent.
class BenchProgress {
 public:
  BenchProgress(bool quiet, int64_t warmup, int64_t total)
      : quiet_(quiet), tty_(::isatty(STDERR_FILENO) == 1), warmup_(warmup), total_(total) {}
  void step_done(int64_t done, double secs) {
    if (quiet_) return;
    const std::string text = detail::concat("bench: step ", done, "/", total_, done <= warmup_ ? " (warmup)" : "",
                                            ": ", int64_t(std::llround(secs * 1e3)), " ms");
    if (tty_)
      std::cerr << "\r" << text << "\x1b[K" << (done == total_ ? "\n" : "") << std::flush;
    else
      std::cerr << text << "\n" << std::flush;
  }

 private:
  bool quiet_, tty_;
  int64_t warmup_, total_;
};

}  // namespace

BenchResult run_bench(Config cfg, const BenchOptions& o) {
  ANVIL_CHECK_AS(ConfigError, o.steps >= 1, "bench: --steps must be at least 1, got ", o.steps);
  ANVIL_CHECK_AS(ConfigError, o.warmup_steps >= 0, "bench: --warmup must be >= 0, got ", o.warmup_steps);
  const Device device = Device::parse(cfg.run.device);
  if (device.is_cuda()) {
    ANVIL_CHECK_AS(ConfigError, runtime::cuda_built() && device.index < runtime::cuda_device_count(),
                   "run.device: ", cfg.run.device, " but this build/machine has ", runtime::cuda_device_count(),
                   " CUDA device(s)");
    runtime::set_cuda_device(device.index);
  }
  check_supported(cfg);

  // The trainer's own step (train/step.cpp) on one process, fed synthetic tokens.
  TrainSession s;
  s.cfg = cfg;
  s.comm = distributed::make_none_communicator();
  s.device = device;
  build_model_and_optimizer(s);
  const int64_t B = s.cfg.training.micro_batch_size, T = s.cfg.data.seq_len;
  s.train_data = std::make_unique<data::SyntheticTokens>(s.cfg.run.seed, B, T, s.cfg.model.vocab_size);
  const float lr = float(s.cfg.optimizer.lr);

  BenchResult r;
  r.device = cfg.run.device;
  r.parameters = s.model->num_parameters();
  r.tokens_per_step = B * T * s.accum;
  r.flops_per_token = 6.0 * double(r.parameters) + 6.0 * double(s.cfg.model.n_layer * T * s.cfg.model.d_model);

  BenchProgress progress(o.quiet, o.warmup_steps, o.warmup_steps + o.steps);
  std::vector<double> times;
  for (int64_t i = 0; i < o.warmup_steps + o.steps; ++i) {
    const auto start = Clock::now();
    const StepResult step = optimizer_step(s, lr);
    runtime::synchronize(device);  // a step on one CUDA device does not wait for the GPU by itself
    const double secs = std::chrono::duration<double>(Clock::now() - start).count();
    if (i >= o.warmup_steps) times.push_back(secs);
    r.final_loss = step.loss_on_device.defined() ? double(step.loss_on_device.item()) : step.loss;
    progress.step_done(i + 1, secs);
  }
  ANVIL_CHECK_AS(RuntimeFailure, std::isfinite(r.final_loss), "bench: the loss became ", r.final_loss);
  std::sort(times.begin(), times.end());
  r.step_seconds_min = times.front();
  const size_t n = times.size();
  r.step_seconds_median = n % 2 ? times[n / 2] : 0.5 * (times[n / 2 - 1] + times[n / 2]);
  r.tokens_per_second = double(r.tokens_per_step) / r.step_seconds_median;
  r.achieved_tflops = r.flops_per_token * r.tokens_per_second / 1e12;
  if (o.peak_tflops > 0) r.mfu = r.achieved_tflops / o.peak_tflops;
  r.peak_memory_bytes =
      device.is_cuda() ? cuda_caching_allocator(device.index).stats().peak_allocated_bytes : peak_rss_bytes();
  return r;
}

}  // namespace anvil::train
