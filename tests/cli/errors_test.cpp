// The CLI's top-level error reporting (cli/errors.h): user input errors exit 2 with their message;
// bugs (InternalError: op contract violations, failed asserts) exit 1 as "internal error" with what
// to report; other failures exit 1. And the unknown-command suggestion's edit distance.
#include <gtest/gtest.h>

#include <sstream>
#include <type_traits>

#include "cli/errors.h"
#include "core/base/error.h"
#include "core/base/text.h"
#include "core/ops/ops.h"
#include "core/tensor/tensor.h"

namespace anvil::cli {
namespace {

struct Reported {
  int code;
  std::string text;
};

template <typename F>
Reported report(F f, const std::string& command = "anvil train configs/tiny.yaml") {
  try {
    f();
  } catch (...) {
    std::ostringstream err;
    const int code = report_exception(std::current_exception(), err, command);
    return {code, err.str()};
  }
  ADD_FAILURE() << "nothing was thrown";
  return {-1, ""};
}

TEST(ReportException, OpErrorIsAnInternalErrorNotAnInputError) {
  static_assert(std::is_base_of_v<InternalError, OpError>);
  static_assert(!std::is_base_of_v<InputError, OpError>);
  static_assert(!std::is_base_of_v<InputError, InternalError>);
}

TEST(ReportException, InputErrorsExit2WithTheirMessage) {
  for (auto r : {report([] { throw InputError("bad flag"); }), report([] { throw ConfigError("bad flag"); }),
                 report([] { throw DataError("bad flag"); }), report([] { throw CheckpointError("bad flag"); })}) {
    EXPECT_EQ(r.code, 2);
    EXPECT_EQ(r.text, "error: bad flag\n");
  }
}

TEST(ReportException, AnOpContractViolationIsAnInternalErrorThatAsksForAReport) {
  // A real one: adding tensors whose shapes do not broadcast.
  const Reported r = report([] { ops::add(Tensor::zeros({2, 3}), Tensor::zeros({4, 5})); },
                            "anvil train 'my config.yaml'");
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.text.rfind("internal error: [add]", 0), 0u) << r.text;
  EXPECT_NE(r.text.find("bug in anvil"), std::string::npos) << r.text;
  EXPECT_NE(r.text.find("issue tracker"), std::string::npos) << r.text;
  EXPECT_NE(r.text.find(version_line()), std::string::npos) << r.text;
  EXPECT_NE(r.text.find("command: anvil train 'my config.yaml'"), std::string::npos) << r.text;
}

TEST(ReportException, AFailedAssertIsAnInternalError) {
  const Reported r = report([] { ANVIL_ASSERT(1 + 1 == 3, "arithmetic"); });
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.text.rfind("internal error: 1 + 1 == 3 failed at ", 0), 0u) << r.text;
  EXPECT_NE(r.text.find("issue tracker"), std::string::npos) << r.text;
}

TEST(ReportException, RuntimeFailuresExit1WithoutBlamingAnvil) {
  const Reported r = report([] { throw RuntimeFailure("disk full"); });
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.text, "error: disk full\n");
}

TEST(ReportException, VersionLineNamesVersionAndCommit) {
  EXPECT_EQ(version_line().rfind("anvil ", 0), 0u);
  EXPECT_NE(version_line().find("(commit "), std::string::npos);
}

TEST(CommandLine, QuotesArgumentsThatNeedIt) {
  const char* argv[] = {"anvil", "train", "a b.yaml", "x=it's", ""};
  EXPECT_EQ(command_line(5, argv), "anvil train 'a b.yaml' 'x=it'\\''s' ''");
}

TEST(EditDistance, CountsInsertionsDeletionsAndSubstitutions) {
  EXPECT_EQ(anvil::edit_distance("", ""), 0);
  EXPECT_EQ(anvil::edit_distance("train", "train"), 0);
  EXPECT_EQ(anvil::edit_distance("trian", "train"), 2);
  EXPECT_EQ(anvil::edit_distance("kitten", "sitting"), 3);
  EXPECT_EQ(anvil::edit_distance("", "eval"), 4);
  EXPECT_EQ(anvil::edit_distance("evaluate", "eval"), 4);
}

TEST(ClosestName, PicksTheNearestCommand) {
  const std::vector<std::string> names = {"bench", "eval", "generate", "prepare", "tokenize", "train"};
  EXPECT_EQ(closest_name("trian", names), "train");
  EXPECT_EQ(closest_name("genrate", names), "generate");
  EXPECT_EQ(closest_name("tokenise", names), "tokenize");
  EXPECT_EQ(closest_name("evl", names), "eval");
  EXPECT_EQ(closest_name("x", {}), "");
}

}  // namespace
}  // namespace anvil::cli
