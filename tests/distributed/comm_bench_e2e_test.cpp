// `anvil bench --comm`: under mpiexec it prints, on rank 0 only, one row per doubling message size
// with bus bandwidth = algbw * 2(n-1)/n; in one process bus bandwidth is 0; bad sizes exit 2.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "tests/support/test_paths.h"

namespace anvil {
namespace {

std::vector<nlohmann::json> json_lines(const std::string& output) {
  std::vector<nlohmann::json> out;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] == '{') out.push_back(nlohmann::json::parse(line));
  return out;
}

const std::string kComm = " bench --comm --json --min-mb 1 --max-mb 2 --iters 2";

TEST(CommBenchCli, TwoRanksReportEachSizeOnce) {
#ifndef ANVIL_HAVE_MPI
  GTEST_SKIP() << "built without MPI";
#else
  auto r = test::run_command(test::mpiexec_command(2) + test::anvil_binary().string() + kComm);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto rows = json_lines(r.output);
  ASSERT_EQ(rows.size(), 2u) << r.output;  // rank 0 only
  EXPECT_EQ(rows[0]["bytes"].get<int64_t>(), 1 << 20);
  EXPECT_EQ(rows[1]["bytes"].get<int64_t>(), 2 << 20);
  for (const auto& row : rows) {
    EXPECT_EQ(row["world_size"].get<int>(), 2);
    EXPECT_EQ(row["backend"], "mpi");
    EXPECT_GT(row["seconds"].get<double>(), 0);
    // n = 2: bus bandwidth equals algorithm bandwidth = bytes / seconds.
    EXPECT_NEAR(row["busbw_gbps"].get<double>(), row["algbw_gbps"].get<double>(), 1e-9);
    EXPECT_NEAR(row["algbw_gbps"].get<double>(), row["bytes"].get<double>() / row["seconds"].get<double>() / 1e9,
                1e-6 * row["algbw_gbps"].get<double>());
  }
#endif
}

TEST(CommBenchCli, OneProcessAndBadSizes) {
  auto one = test::run_command(test::anvil_binary().string() + kComm);
  ASSERT_EQ(one.exit_code, 0) << one.output;
  auto rows = json_lines(one.output);
  ASSERT_EQ(rows.size(), 2u) << one.output;
  EXPECT_EQ(rows[0]["world_size"].get<int>(), 1);
  EXPECT_EQ(rows[0]["busbw_gbps"].get<double>(), 0.0);

  auto bad = test::run_command(test::anvil_binary().string() + " bench --comm --min-mb 8 --max-mb 2");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("min <= max"), std::string::npos) << bad.output;
  auto with_config = test::run_command(test::anvil_binary().string() + " bench --comm configs/tiny.yaml");
  EXPECT_EQ(with_config.exit_code, 2) << with_config.output;
}

}  // namespace
}  // namespace anvil
