// `anvil bench`: the JSON figures are consistent with the config (tokens per step, parameter
// count, a first-steps loss near ln(V) on uniform random tokens), and bad flags or devices exit 2.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/base/error.h"
#include "tests/support/test_paths.h"

namespace anvil {
namespace {

test::CommandResult anvil(const std::string& args) {
  return test::run_command(test::anvil_binary().string() + " " + args);
}

// Quoted for the shell (appended piecewise: GCC 12 misreads `"'" + std::string` under -Wrestrict).
std::string tiny_config() {
  std::string quoted = "'";
  quoted += (test::source_dir() / "configs/tiny.yaml").string();
  return quoted += "'";
}

TEST(BenchCli, JsonFiguresFollowTheConfig) {
  // 2 layers, micro-batch 4 x T 32, two accumulation steps: 256 tokens per step.
  auto r = anvil("bench " + tiny_config() +
                 " --steps 3 --warmup 1 --json --peak-tflops 1 model.n_layer=2 training.micro_batch_size=4"
                 " data.seq_len=32 training.global_batch_tokens=256");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  nlohmann::json j;
  std::istringstream in(r.output);
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] == '{') j = nlohmann::json::parse(line);
  ASSERT_TRUE(j.is_object()) << r.output;
  EXPECT_EQ(j["device"], "cpu");
  EXPECT_EQ(j["tokens_per_step"].get<int64_t>(), 256);
  // GPT-2, d=128, V=4096, max_seq_len 128, tied head: wte + wpe + 2 blocks * (12 d^2 + 13 d) + ln_f.
  const int64_t d = 128;
  EXPECT_EQ(j["parameters"].get<int64_t>(), 4096 * d + 128 * d + 2 * (12 * d * d + 13 * d) + 2 * d);
  EXPECT_GT(j["tokens_per_s"].get<double>(), 0);
  EXPECT_LE(j["step_ms_min"].get<double>(), j["step_ms_median"].get<double>());
  EXPECT_NEAR(j["mfu"].get<double>(), j["tflops"].get<double>(), 1e-12);  // peak 1 TFLOP/s
  EXPECT_GT(j["peak_memory_bytes"].get<int64_t>(), 0);
  // Uniform random targets: the loss stays near ln(4096) = 8.32 in the first steps.
  EXPECT_NEAR(j["final_loss"].get<double>(), std::log(4096.0), 0.3);
}

// bench used to be silent for its whole run. Off a terminal (here: stderr is a file) each step is one
// plain line on stderr; stdout keeps only the figures, so `--json` output stays parseable.
TEST(BenchCli, ReportsEachStepOnStderr) {
  const std::filesystem::path err = test::scratch_dir() / "stderr.txt";
  // In a subshell: run_command sends the command's stderr to its output, the subshell's to the file.
  auto r = test::run_command(detail::concat("(", test::anvil_binary().string(), " bench ", tiny_config(),
                                            " --steps 2 --warmup 1 --json model.n_layer=1 training.micro_batch_size=2"
                                            " data.seq_len=16 training.global_batch_tokens=32 2> '",
                                            err.string(), "')"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::ifstream in(err);
  const std::string progress((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(progress.find("bench: step 1/3 (warmup): "), std::string::npos) << progress;
  EXPECT_NE(progress.find("bench: step 2/3: "), std::string::npos) << progress;
  EXPECT_NE(progress.find("bench: step 3/3: "), std::string::npos) << progress;
  EXPECT_EQ(progress.find('\r'), std::string::npos) << "no carriage returns off a terminal";
  EXPECT_EQ(r.output.find("bench: step"), std::string::npos) << "progress belongs on stderr: " << r.output;
  EXPECT_EQ(r.output.find('{'), 0u) << r.output;
}

TEST(BenchCli, BadInputExitsTwo) {
  auto zero_steps = anvil("bench " + tiny_config() + " --steps 0");
  EXPECT_EQ(zero_steps.exit_code, 2) << zero_steps.output;
  EXPECT_NE(zero_steps.output.find("--steps"), std::string::npos) << zero_steps.output;
  auto fp16 = anvil("bench " + tiny_config() + " training.precision=fp16");
  EXPECT_EQ(fp16.exit_code, 2) << fp16.output;
  EXPECT_NE(fp16.output.find("training.precision"), std::string::npos) << fp16.output;
  auto unknown_key = anvil("bench " + tiny_config() + " training.max_stepz=3");
  EXPECT_EQ(unknown_key.exit_code, 2) << unknown_key.output;
  EXPECT_NE(unknown_key.output.find("did you mean"), std::string::npos) << unknown_key.output;
}

}  // namespace
}  // namespace anvil
