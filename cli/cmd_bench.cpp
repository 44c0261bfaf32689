// anvil bench CONFIG [key.sub=value ...] [--steps N] [--warmup N] [--peak-tflops X] [--json]
//   times training steps of the configured model on synthetic tokens (train/bench.h) and prints
//   tokens/s, model TFLOP/s, MFU (when the device's peak is given) and peak memory.
// anvil bench --comm [--backend B] [--min-mb M] [--max-mb M] [--iters N]   (under mpirun)
//   all-reduce algorithm and bus bandwidth per message size (distributed/comm_bench.h).
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "core/base/error.h"
#include "distributed/comm_bench.h"
#include "distributed/communicator.h"
#include "train/bench.h"

namespace {

struct BenchArgs {
  std::string config;
  std::vector<std::string> overrides;
  anvil::train::BenchOptions options;
  bool json = false;
  bool comm = false;
  std::string backend = "auto";
  double min_mb = 1, max_mb = 1024;
  int iterations = 5;
};

int run_comm_bench(const BenchArgs& a) {
  namespace dist = anvil::distributed;
  ANVIL_CHECK_AS(anvil::InputError, a.config.empty() && a.overrides.empty(),
                 "bench --comm takes no config (got ", a.config, ")");
  auto comm = dist::make_communicator(a.backend, dist::detect_launch(dist::launch_environment()), "cpu", 300);
  dist::CommBenchOptions o;
  o.min_bytes = int64_t(a.min_mb * 1024 * 1024);
  o.max_bytes = int64_t(a.max_mb * 1024 * 1024);
  o.iterations = a.iterations;
  const auto rows = dist::run_comm_bench(*comm, o);
  if (comm->rank() != 0) return 0;
  if (a.json) {
    for (const auto& r : rows)
      std::cout << nlohmann::json{{"bytes", r.bytes}, {"seconds", r.seconds}, {"algbw_gbps", r.algbw_gbps},
                                  {"busbw_gbps", r.busbw_gbps}, {"world_size", comm->world_size()},
                                  {"backend", comm->backend()}}
                       .dump()
                << "\n";
    return 0;
  }
  std::cout << "all-reduce (sum, f32, host buffers) over " << comm->world_size() << " rank(s), backend "
            << comm->backend() << "\n";
  if (comm->world_size() == 1) std::cout << "one process: bus bandwidth is 0 by definition; run under mpirun -np N\n";
  std::cout << std::setw(12) << "size" << std::setw(14) << "time (ms)" << std::setw(16) << "algbw (GB/s)"
            << std::setw(16) << "busbw (GB/s)" << "\n";
  for (const auto& r : rows)
    std::cout << std::setw(9) << std::fixed << std::setprecision(1) << double(r.bytes) / (1024.0 * 1024.0) << " MiB"
              << std::setw(14) << std::setprecision(3) << r.seconds * 1e3 << std::setw(16) << r.algbw_gbps
              << std::setw(16) << r.busbw_gbps << "\n";
  return 0;
}

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
  std::cout << std::setprecision(1) << "peak memory  " << mib(r.peak_memory_bytes)
            << (r.device == "cpu" ? " MiB (process peak RSS)\n" : " MiB (peak allocated on the device)\n");
}

anvil::cli::Command reg("bench", "Time training steps of a config's model on synthetic tokens", [](CLI::App& app) {
  auto a = std::make_shared<BenchArgs>();
  app.add_option("config", a->config, "YAML config file, e.g. configs/tiny.yaml (not with --comm)");
  app.add_option("overrides", a->overrides, "key.sub=value overrides applied after the file");
  app.add_option("--steps", a->options.steps, "timed optimizer steps")->check(CLI::PositiveNumber);
  app.add_option("--warmup", a->options.warmup_steps, "untimed steps before timing")->check(CLI::NonNegativeNumber);
  app.add_option("--peak-tflops", a->options.peak_tflops, "the device's dense peak TFLOP/s, for MFU")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--json", a->json, "print JSON lines instead of the table");
  app.add_flag("--comm", a->comm, "measure all-reduce bandwidth instead (run under mpirun -np N)");
  app.add_option("--backend", a->backend, "--comm: communicator backend")
      ->check(CLI::IsMember({"auto", "mpi", "none"}));
  app.add_option("--min-mb", a->min_mb, "--comm: smallest message in MiB")->check(CLI::PositiveNumber);
  app.add_option("--max-mb", a->max_mb, "--comm: largest message in MiB (sizes double)")->check(CLI::PositiveNumber);
  app.add_option("--iters", a->iterations, "--comm: timed all-reduces per size")->check(CLI::PositiveNumber);
  app.footer("Examples: anvil bench configs/tiny.yaml --steps 20 training.micro_batch_size=16\n"
             "          mpirun -np 2 anvil bench --comm --max-mb 256   (as root, OpenMPI needs --allow-run-as-root)");
  return [a] {
    if (a->comm) return run_comm_bench(*a);
    ANVIL_CHECK_AS(anvil::InputError, !a->config.empty(), "bench: give a CONFIG file, or --comm");
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
