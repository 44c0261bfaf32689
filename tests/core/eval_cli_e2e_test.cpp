// `anvil eval` end to end: on the golden HF folders it prints transformers' loss and writes logits and
// HF-layout gradients that match the fixtures; on corrupted inputs it exits with code 2 and a
// message naming the file and tensor.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/io/safetensors.h"
#include "tests/support/gradcheck.h"
#include "tests/support/test_paths.h"

namespace anvil {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

fs::path golden(const std::string& name) { return test::shared_dir() / "data/golden" / name; }

test::CommandResult eval(const fs::path& model, const fs::path& tokens, const std::string& extra = "") {
  return test::run_command(test::anvil_binary().string() + " eval --model '" + model.string() + "' --tokens '" +
                           tokens.string() + "' " + extra);
}

// The first line of the output that parses as a JSON object.
json json_line(const std::string& output) {
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] == '{') return json::parse(line);
  return json();
}

double expected_loss(const std::string& name) {
  std::ifstream in(golden(name) / "expected.json");
  return json::parse(in)["loss"].get<double>();
}

TEST(EvalCli, Gpt2GoldenLossLogitsAndGrads) {
  const fs::path dir = golden("gpt2_tiny");
  const fs::path scratch = test::scratch_dir();
  auto r = eval(dir, dir / "expected_logits.safetensors",
                "--logits-out '" + (scratch / "logits.safetensors").string() + "' --grads-out '" +
                    (scratch / "grads.safetensors").string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  json line = json_line(r.output);
  ASSERT_TRUE(line.is_object()) << r.output;
  const double want = expected_loss("gpt2_tiny");
  EXPECT_LT(std::abs(line["loss"].get<double>() - want) / want, 1e-5) << r.output;
  EXPECT_EQ(line["tokens"].get<int64_t>(), 3 * 19);

  auto ref_logits = io::read_safetensors(dir / "expected_logits.safetensors").tensors.at("logits");
  auto logits = io::read_safetensors(scratch / "logits.safetensors").tensors.at("logits");
  EXPECT_LT(test::norm_rel_error(logits, ref_logits), 1e-4);
  auto ref_grads = io::read_safetensors(dir / "expected_grads.safetensors").tensors;
  auto grads = io::read_safetensors(scratch / "grads.safetensors").tensors;
  ASSERT_EQ(grads.size(), ref_grads.size());
  for (const auto& [name, g] : ref_grads) {
    ASSERT_TRUE(grads.count(name)) << name;
    EXPECT_LT(test::norm_rel_error(grads.at(name), g), 1e-4) << name;
  }
}

TEST(EvalCli, LlamaGoldenLoss) {
  const fs::path dir = golden("llama_tiny");
  auto r = eval(dir, dir / "expected_logits.safetensors");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const double want = expected_loss("llama_tiny");
  EXPECT_LT(std::abs(json_line(r.output)["loss"].get<double>() - want) / want, 1e-5) << r.output;
}

TEST(EvalCli, CorruptedInputsExitWithCode2) {
  const fs::path scratch = test::scratch_dir();
  const fs::path dir = scratch / "model";
  fs::create_directories(dir);
  fs::copy_file(golden("gpt2_tiny") / "config.json", dir / "config.json");
  auto tensors = io::read_safetensors(golden("gpt2_tiny") / "model.safetensors").tensors;
  tensors.erase("transformer.h.0.mlp.c_fc.bias");
  io::write_safetensors(dir / "model.safetensors", tensors);
  const fs::path tokens = golden("gpt2_tiny") / "expected_logits.safetensors";

  auto r = eval(dir, tokens);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find((dir / "model.safetensors").string()), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("missing tensor 'transformer.h.0.mlp.c_fc.bias'"), std::string::npos) << r.output;

  // Truncated weights file.
  tensors = io::read_safetensors(golden("gpt2_tiny") / "model.safetensors").tensors;
  io::write_safetensors(dir / "model.safetensors", tensors);
  fs::resize_file(dir / "model.safetensors", 100);
  r = eval(dir, tokens);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("model.safetensors"), std::string::npos) << r.output;

  // Tokens file without input_ids, and ids outside the vocabulary.
  io::write_safetensors(scratch / "bad_tokens.safetensors", {{"ids", Tensor::from_ints({1, 2}, {1, 2})}});
  r = eval(golden("gpt2_tiny"), scratch / "bad_tokens.safetensors");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("input_ids"), std::string::npos) << r.output;
  io::write_safetensors(scratch / "oov.safetensors", {{"input_ids", Tensor::from_ints({1, 384}, {1, 2})}});
  r = eval(golden("gpt2_tiny"), scratch / "oov.safetensors");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("384"), std::string::npos) << r.output;

  // Missing model folder.
  r = eval(scratch / "absent", tokens);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("absent"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace anvil
