// End-to-end check of `anvil tokenize`: encode and decode through the binary, exit codes on bad
// input.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/support/test_paths.h"

namespace anvil {
namespace {

namespace fs = std::filesystem;

std::string tokenize_command(const std::string& args) {
  fs::path tokenizer = test::shared_dir() / "data" / "gpt2-tokenizer";
  return test::anvil_binary().string() + " tokenize --tokenizer '" + tokenizer.string() + "' " + args;
}

TEST(TokenizeCli, EncodesStdinAsJsonArray) {
  fs::path input = test::scratch_dir() / "in.txt";
  std::ofstream(input, std::ios::binary) << "Hello world<|endoftext|>";
  test::CommandResult r = test::run_command(tokenize_command("< '" + input.string() + "'"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(nlohmann::json::parse(r.output), nlohmann::json::parse("[15496, 995, 50256]"));
  EXPECT_EQ(r.output.find('\n'), r.output.size() - 1);  // one line

  r = test::run_command(tokenize_command("--no-special < '" + input.string() + "'"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto ids = nlohmann::json::parse(r.output).get<std::vector<uint32_t>>();
  EXPECT_GT(ids.size(), 3u);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 50256u), 0);
}

TEST(TokenizeCli, DecodeInvertsEncode) {
  fs::path dir = test::scratch_dir();
  const std::string text = "Café  naïve\n中文 😀 it's 2024.\n";
  std::ofstream(dir / "in.txt", std::ios::binary) << text;
  test::CommandResult enc = test::run_command(tokenize_command("< '" + (dir / "in.txt").string() + "'"));
  ASSERT_EQ(enc.exit_code, 0) << enc.output;
  std::ofstream(dir / "ids.json", std::ios::binary) << enc.output;
  test::CommandResult dec =
      test::run_command(tokenize_command("--decode < '" + (dir / "ids.json").string() + "'"));
  ASSERT_EQ(dec.exit_code, 0) << dec.output;
  EXPECT_EQ(dec.output, text);
}

TEST(TokenizeCli, BadInputExitsWithCode2) {
  test::CommandResult r = test::run_command(test::anvil_binary().string() +
                                            " tokenize --tokenizer /nonexistent/tok < /dev/null");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("/nonexistent/tok"), std::string::npos) << r.output;
  r = test::run_command("echo '[1, -3]' | " + tokenize_command("--decode"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("element 1"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace anvil
