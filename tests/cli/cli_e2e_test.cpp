// The anvil binary's command line: an unknown command is named with the closest command (exit 2),
// and every subcommand's --help shows the defaults of its options.
#include <gtest/gtest.h>

#include <regex>
#include <sstream>

#include "tests/support/test_paths.h"

namespace anvil {
namespace {

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

}  // namespace
}  // namespace anvil
