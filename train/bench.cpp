#include "train/bench.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/autograd/autograd.h"
#include "core/base/error.h"
#include "core/base/rng.h"
#include "core/ops/ops.h"
#include "core/tensor/caching_allocator.h"
#include "kernels/device_runtime.h"
#include "optim/clip.h"
#include "train/model_factory.h"

namespace anvil::train {

namespace {

using Clock = std::chrono::steady_clock;

// (B, T+1) uniform random ids from the Philox stream (seed, micro-step): inputs and targets.
std::pair<Tensor, Tensor> random_batch(uint64_t seed, int64_t micro_step, int64_t B, int64_t T, int64_t vocab,
                                       Device device) {
  Tensor all = Tensor::empty({B, T + 1}, DType::I32);
  auto* p = static_cast<int32_t*>(all.data_ptr());
  for (int64_t i = 0; i < B * (T + 1); ++i)
    p[i] = int32_t(Philox4x32::word(seed + uint64_t(micro_step) * 0x9E3779B97F4A7C15ull, uint64_t(i)) % uint64_t(vocab));
  if (!device.is_cpu()) all = all.to(device);
  return {all.slice(1, 0, T), all.slice(1, 1, T + 1)};
}

int64_t peak_rss_bytes() {
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  return int64_t(usage.ru_maxrss) * 1024;  // Linux reports kilobytes
}

}  // namespace

BenchResult run_bench(Config cfg, const BenchOptions& o) {
  ANVIL_CHECK_AS(ConfigError, o.steps >= 1, "bench: --steps must be at least 1, got ", o.steps);
  ANVIL_CHECK_AS(ConfigError, o.warmup_steps >= 0, "bench: --warmup must be >= 0, got ", o.warmup_steps);
  const Device device = Device::parse(cfg.run.device);
  if (device.is_cuda()) {
    ANVIL_CHECK_AS(ConfigError, kernels::cuda_built() && device.index < kernels::cuda_device_count(),
                   "run.device: ", cfg.run.device, " but this build/machine has ", kernels::cuda_device_count(),
                   " CUDA device(s)");
    kernels::cuda_set_device(device.index);
  }
  ANVIL_CHECK_AS(ConfigError, cfg.training.precision == "fp32", "training.precision: ", cfg.training.precision,
                 " is not wired yet; bench runs fp32");

  Generator init_rng(cfg.run.seed);
  auto model = build_model(cfg, init_rng);
  model->train(true);
  if (!device.is_cpu()) model->to(device);
  std::unique_ptr<optim::Optimizer> opt = make_optimizer(cfg, *model);
  const std::vector<Tensor> params = model->parameters();

  const int64_t B = cfg.training.micro_batch_size, T = cfg.data.seq_len;
  const int64_t accum = grad_accum_steps(cfg, 1);
  const int64_t vocab = cfg.model.vocab_size;

  BenchResult r;
  r.device = cfg.run.device;
  r.parameters = model->num_parameters();
  r.tokens_per_step = B * T * accum;
  r.flops_per_token = 6.0 * double(r.parameters) + 6.0 * double(cfg.model.n_layer * T * cfg.model.d_model);

  std::vector<double> times;
  int64_t micro_step = 0;
  for (int64_t s = 0; s < o.warmup_steps + o.steps; ++s) {
    const auto start = Clock::now();
    double loss_sum = 0;
    for (int64_t m = 0; m < accum; ++m) {
      auto [ids, targets] = random_batch(cfg.run.seed, micro_step++, B, T, vocab, device);
      Tensor loss = model->loss(model->forward(ids), targets);
      loss_sum += loss.item();
      ops::mul_scalar(loss, 1.0f / float(accum)).backward();
    }
    optim::clip_grad_norm(params, float(cfg.training.grad_clip));
    opt->step(float(cfg.optimizer.lr));
    opt->zero_grad();
    if (device.is_cuda()) kernels::cuda_synchronize(device.index);  // (loss.item() already waits; be explicit)
    const double secs = std::chrono::duration<double>(Clock::now() - start).count();
    if (s >= o.warmup_steps) times.push_back(secs);
    r.final_loss = loss_sum / double(accum);
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
