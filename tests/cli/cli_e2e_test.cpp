// The anvil binary's command line: an unknown command is named with the closest command (exit 2),
// every subcommand's --help shows the defaults of its options, and `anvil generate` checks its
// tokenizer against the model before it prints anything.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <sstream>

#include "data/bpe/tokenizer.h"
#include "tests/support/test_paths.h"

namespace anvil {
namespace {

namespace fs = std::filesystem;

std::string quote(const fs::path& p) {
  std::string q = "'";
  q += p.string();
  q += '\'';
  return q;
}

test::CommandResult anvil(const std::string& args) {
  return test::run_command(test::anvil_binary().string() + " " + args);
}
// Only what anvil writes to stderr (stdout dropped), or only its stdout.
test::CommandResult anvil_stderr(const std::string& args) {
  return test::run_command("{ " + test::anvil_binary().string() + " " + args + " 2>&1 >/dev/null; }");
}
test::CommandResult anvil_stdout(const std::string& args) {
  return test::run_command("{ " + test::anvil_binary().string() + " " + args + " 2>/dev/null; }");
}

const std::vector<std::string> kCommands = {"bench", "eval", "generate", "prepare", "tokenize", "train"};

TEST(Cli, UnknownCommandIsNamedWithTheClosestCommandOnStderr) {
  for (auto [typed, closest] : std::vector<std::pair<std::string, std::string>>{
           {"trian", "train"}, {"genrate", "generate"}, {"evl", "eval"}, {"foo", "eval"}}) {
    auto r = anvil_stderr(typed + " configs/tiny.yaml");
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find("unknown command '" + typed + "'"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("did you mean '" + closest + "'?"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("A subcommand is required"), std::string::npos) << r.output;
    auto out = anvil_stdout(typed);  // nothing on stdout
    EXPECT_EQ(out.output, "");
  }
  // Known commands and the top-level flags still parse.
  EXPECT_EQ(anvil("--version").exit_code, 0);
  EXPECT_EQ(anvil("--help").exit_code, 0);
  EXPECT_EQ(anvil("train --help").exit_code, 0);
}

// The help line of option `name` (e.g. "--top-k") in a command's --help.
std::string help_line(const std::string& help, const std::string& name) {
  std::istringstream in(help);
  for (std::string line; std::getline(in, line);)
    if (std::regex_search(line, std::regex("^\\s*(-\\w, )?" + name + "\\b"))) return line;
  return "";
}

TEST(Cli, EveryCommandsHelpShowsTheDefaultsOfItsOptions) {
  for (const std::string& cmd : kCommands) {
    auto r = anvil(cmd + " --help");
    ASSERT_EQ(r.exit_code, 0) << cmd << ": " << r.output;
    // Every numeric option has a default, shown as TYPE=VALUE (string options shown when not empty).
    std::istringstream in(r.output);
    int numeric = 0;
    for (std::string line; std::getline(in, line);) {
      if (!std::regex_search(line, std::regex("^\\s*-"))) continue;
      if (!std::regex_search(line, std::regex("\\b(INT|UINT|FLOAT)\\b"))) continue;
      ++numeric;
      EXPECT_TRUE(std::regex_search(line, std::regex("\\b(INT|UINT|FLOAT)\\S*( in \\[[^\\]]*\\])?=")))
          << "anvil " << cmd << " --help shows no default in: " << line;
    }
    if (cmd != "tokenize" && cmd != "train") {
      EXPECT_GT(numeric, 0) << cmd << ": " << r.output;
    }
  }
  auto gen = anvil("generate --help").output;
  EXPECT_NE(help_line(gen, "--max-new-tokens").find("=64"), std::string::npos) << gen;
  EXPECT_NE(help_line(gen, "--temperature").find("=1"), std::string::npos) << gen;
  EXPECT_NE(help_line(gen, "--top-k").find("=0"), std::string::npos) << gen;
  EXPECT_NE(help_line(gen, "--num-samples").find("=1"), std::string::npos) << gen;
  auto eval = anvil("eval --help").output;
  EXPECT_NE(help_line(eval, "--max-batches").find("=0"), std::string::npos) << eval;
}

// A tokenizer of about n tokens trained on a little text, saved under dir.
fs::path small_tokenizer(const fs::path& dir, int64_t n) {
  std::string corpus;
  for (int i = 0; i < 200; ++i) corpus += "the cat sees a dog and the dog sees the cat in the garden. ";
  data::BpeTokenizer::train(corpus, n).save(dir);
  return dir;
}

const fs::path kTinyGpt2 = test::shared_dir() / "data/golden/gpt2_tiny";  // vocab_size 384

TEST(GenerateCli, ATokenizerLargerThanTheModelIsAnErrorBeforeAnyOutput) {
  const fs::path gpt2_tok = test::shared_dir() / "data/gpt2-tokenizer";  // 50257 tokens
  const std::string args = "generate --checkpoint " + quote(kTinyGpt2) + " --tokenizer " + quote(gpt2_tok) +
                           " --prompt 'A' --max-new-tokens 4";
  auto err = anvil_stderr(args);
  EXPECT_EQ(err.exit_code, 2) << err.output;
  EXPECT_NE(err.output.find((gpt2_tok / "vocab.json").string()), std::string::npos) << err.output;
  EXPECT_NE(err.output.find("50257"), std::string::npos) << err.output;
  EXPECT_NE(err.output.find("384"), std::string::npos) << err.output;
  auto out = anvil_stdout(args);
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_EQ(out.output, "");  // nothing generated
}

TEST(GenerateCli, ATokenizerSmallerThanTheModelSamplesOnlyIdsItCanDecode) {
  const fs::path tok = small_tokenizer(test::scratch_dir() / "tok", 270);
  ASSERT_LT(data::BpeTokenizer::load(tok).vocab_size(), 384);
  // The tiny model's sampling at temperature 1 would pick ids >= 270 often over 200 tokens.
  auto r = anvil("generate --checkpoint " + quote(kTinyGpt2) + " --tokenizer " + quote(tok) +
                 " --prompt 'the cat' --max-new-tokens 200 --temperature 1 --num-samples 3");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("--- sample 3 ---"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace anvil
