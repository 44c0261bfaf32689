// anvil bench CONFIG [key.sub=value ...] [--steps N] [--warmup N] [--peak-tflops X] [--json]
// Times training steps of the configured model on synthetic tokens (train/bench.h) and prints
// tokens/s, model TFLOP/s, MFU (when the device's peak is given) and peak memory.
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "train/bench.h"

namespace {

struct BenchArgs {
  std::string config;
  std::vector<std::string> overrides;
  anvil::train::BenchOptions options;
  bool json = false;
};

void print_table(const anvil::train::Config& cfg, const anvil::train::BenchResult& r) {
  auto mib = [](int64_t b) { return double(b) / (1024.0 * 1024.0); };
  std::cout << std::fixed << std::setprecision(1);
  std::cout << "model        " << cfg.model.arch << " " << cfg.model.n_layer << "x" << cfg.model.d_model << ", "
            << double(r.parameters) / 1e6 << "M parameters, vocab " << cfg.model.vocab_size << "\n";
  std::cout << "step         " << r.tokens_per_step << " tokens (micro-batch " << cfg.training.micro_batch_size
            << " x T " << cfg.data.seq_len << "), " << cfg.training.precision << " on " << r.device << "\n";
  std::cout << std::setprecision(2);
  std::cout << "step time    " << r.step_seconds_median * 1e3 << " ms median, " << r.step_seconds_min * 1e3
            << " ms min\n";
  std::cout << std::setprecision(0) << "throughput   " << r.tokens_per_second << " tokens/s\n";
  std::cout << std::setprecision(3) << "compute      " << r.achieved_tflops << " TFLOP/s (model FLOPs, "
            << r.flops_per_token / 1e9 << " GFLOP per token)\n";
  if (r.mfu >= 0)
    std::cout << std::setprecision(1) << "MFU          " << 100.0 * r.mfu << "%\n";
  else
    std::cout << "MFU          n/a (give --peak-tflops)\n";
  std::cout << std::setprecision(1) << "peak memory  " << mib(r.peak_memory_bytes) << " MiB (process peak RSS)\n";
}

anvil::cli::Command reg("bench", "Time training steps of a config's model on synthetic tokens", [](CLI::App& app) {
  auto a = std::make_shared<BenchArgs>();
  app.add_option("config", a->config, "YAML config file, e.g. configs/tiny.yaml")->required();
  app.add_option("overrides", a->overrides, "key.sub=value overrides applied after the file");
  app.add_option("--steps", a->options.steps, "timed optimizer steps")->check(CLI::PositiveNumber);
  app.add_option("--warmup", a->options.warmup_steps, "untimed steps before timing")->check(CLI::NonNegativeNumber);
  app.add_option("--peak-tflops", a->options.peak_tflops, "the device's dense peak TFLOP/s, for MFU")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--json", a->json, "print one JSON line instead of the table");
  app.footer("Example: anvil bench configs/tiny.yaml --steps 20 training.micro_batch_size=16");
  return [a] {
    anvil::train::Config cfg = anvil::train::load_config(a->config, a->overrides);
    const anvil::train::BenchResult r = anvil::train::run_bench(cfg, a->options);
    if (a->json) {
      nlohmann::json j = {{"device", r.device},
                          {"parameters", r.parameters},
                          {"tokens_per_step", r.tokens_per_step},
                          {"step_ms_median", r.step_seconds_median * 1e3},
                          {"step_ms_min", r.step_seconds_min * 1e3},
                          {"tokens_per_s", r.tokens_per_second},
                          {"tflops", r.achieved_tflops},
                          {"peak_memory_bytes", r.peak_memory_bytes},
                          {"final_loss", r.final_loss}};
      if (r.mfu >= 0) j["mfu"] = r.mfu;
      std::cout << j.dump() << std::endl;
    } else {
      print_table(cfg, r);
    }
    return 0;
  };
});

}  // namespace
