// `mpiexec -np 2 anvil train CONFIG`: the real launch path (launch detection from OpenMPI's
// variables, backend auto -> mpi), rank-0-only output, equality with `anvil train CONFIG` in one
// process, and the launch errors' exit codes. Skips when the build has no MPI.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/base/rng.h"
#include "data/shards/shard.h"
#include "tests/support/test_paths.h"
#include "tests/support/train_fixtures.h"
#include "train/config/config.h"

namespace anvil::train {
namespace {

namespace fs = std::filesystem;

fs::path write_config(const fs::path& dir) {
  Config c = test::small_train_config(dir / "data", dir / "run");
  c.training.global_batch_tokens = 4 * 16 * 4;  // 2 micro-batches per rank on 2 ranks, 4 alone
  c.training.max_steps = 4;
  c.training.eval_every = 2;
  c.training.eval_steps = 2;
  c.training.log_every = 1;
  c.training.checkpoint_every = 0;
  c.scheduler.warmup_steps = 1;
  c.logging.tensorboard = false;
  validate_config(c);
  const fs::path p = dir / "run.yaml";
  std::ofstream(p) << config_to_yaml(c);
  return p;
}

// `timeout` guards every run against a hang (which would then show as exit code 124); root or not.
std::string mpiexec(int np) { return test::mpiexec_command(np); }

std::vector<double> losses(const fs::path& metrics) {
  std::vector<double> out;
  std::ifstream in(metrics);
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    if (j.contains("loss")) out.push_back(j["loss"].get<double>());
  }
  return out;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(MpiTrainCli, TwoRanksEqualOneProcessAndOnlyRankZeroReports) {
#ifndef ANVIL_HAVE_MPI
  GTEST_SKIP() << "built without MPI";
#else
  const fs::path dir = test::scratch_dir();
  test::write_synthetic_corpus(dir / "data", 64, 6000, 9);
  const fs::path cfg = write_config(dir);
  const std::string anvil = test::anvil_binary().string();

  auto dist = test::run_command(mpiexec(2) + anvil + " train " + cfg.string() + " run.output_dir=" + (dir / "dist").string());
  ASSERT_EQ(dist.exit_code, 0) << dist.output;
  EXPECT_EQ(count(dist.output, "trained "), 1u) << dist.output;  // rank 0's summary only
  EXPECT_NE(dist.output.find("on each of 2 ranks (mpi"), std::string::npos) << dist.output;

  auto single = test::run_command(anvil + " train " + cfg.string() + " run.output_dir=" + (dir / "single").string());
  ASSERT_EQ(single.exit_code, 0) << single.output;

  const auto ld = losses(dir / "dist" / "metrics.jsonl"), ls = losses(dir / "single" / "metrics.jsonl");
  ASSERT_EQ(ld.size(), 4u);  // one writer: a line per step
  ASSERT_EQ(ls.size(), 4u);
  for (size_t i = 0; i < ls.size(); ++i) EXPECT_NEAR(ld[i], ls[i], 1e-6 * ls[i]) << "step " << i + 1;
#endif
}

TEST(MpiTrainCli, LaunchAndConfigMismatchesExitWithCodeTwo) {
#ifndef ANVIL_HAVE_MPI
  GTEST_SKIP() << "built without MPI";
#else
  const fs::path dir = test::scratch_dir();
  test::write_synthetic_corpus(dir / "data", 64, 3000, 10);
  const fs::path cfg = write_config(dir);
  const std::string anvil = test::anvil_binary().string();

  // backend none with two launched processes.
  auto none = test::run_command(mpiexec(2) + anvil + " train " + cfg.string() + " distributed.backend=none");
  EXPECT_EQ(none.exit_code, 2) << none.output;  // ConfigError: mpiexec passes the rank's code on
  EXPECT_NE(none.output.find("started 2 processes"), std::string::npos) << none.output;

  // Rank 1 gets another learning rate than rank 0: the config hashes differ.
  auto differ = test::run_command(mpiexec(2) + "sh -c '" + anvil + " train " + cfg.string() +
                                  " optimizer.lr=0.00${OMPI_COMM_WORLD_RANK}1'");
  EXPECT_NE(differ.exit_code, 0) << differ.output;
  EXPECT_NE(differ.output.find("rank 1's config (hash"), std::string::npos) << differ.output;
  EXPECT_NE(differ.output.find("differs from rank 0's"), std::string::npos) << differ.output;
#endif
}

TEST(MpiTrainCli, ARankThatDiesEndsTheJobNamingIt) {
#ifndef ANVIL_HAVE_MPI
  GTEST_SKIP() << "built without MPI";
#else
  // Rank 1 is killed a second into a long run; rank 0 would wait in its next all-reduce forever.
  // mpiexec notices the lost process, names it and ends the job (a hang would end in mpiexec()'s
  // timeout with code 124).
  const fs::path dir = test::scratch_dir();
  test::write_synthetic_corpus(dir / "data", 64, 3000, 11);
  const fs::path cfg = write_config(dir);
  const std::string train = test::anvil_binary().string() + " train " + cfg.string() + " training.max_steps=1000000";
  const auto t0 = std::chrono::steady_clock::now();
  auto r = test::run_command(mpiexec(2) + "sh -c 'if [ \"$OMPI_COMM_WORLD_RANK\" = 1 ]; then (sleep 1; kill -9 $$) & fi; exec " + train + "'");
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.exit_code, 124) << "the job hung until the timeout\n" << r.output;
  EXPECT_LT(secs, 100.0);
  EXPECT_NE(r.output.find("rank 1"), std::string::npos) << r.output;
#endif
}

TEST(MpiTrainCli, ARankThatStopsRespondingIsATimeoutError) {
#ifndef ANVIL_HAVE_MPI
  GTEST_SKIP() << "built without MPI";
#else
  // Rank 1 is stopped (SIGSTOP: alive, never exits) once a long run is training. Rank 0's next
  // collective gives up after distributed.timeout_s = 3 and exits with an error; mpiexec then ends
  // the job, the stopped rank included.
  const fs::path dir = test::scratch_dir();
  test::write_synthetic_corpus(dir / "data", 64, 3000, 12);
  const fs::path cfg = write_config(dir);
  const std::string train = test::anvil_binary().string() + " train " + cfg.string() +
                            " training.max_steps=1000000 distributed.timeout_s=3";
  const auto t0 = std::chrono::steady_clock::now();
  // Stopped once training runs (rank 0 writes run/metrics.jsonl after setup's collectives): a stop
  // inside MPI_Init, which a slow start on a loaded machine reached, hangs in the MPI runtime itself.
  const std::string started = (dir / "run" / "metrics.jsonl").string();
  auto r = test::run_command(mpiexec(2) + "sh -c 'if [ \"$OMPI_COMM_WORLD_RANK\" = 1 ]; then (until [ -s " + started +
                             " ]; do sleep 0.1; done; kill -STOP $$) & fi; exec " + train + "'");
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.exit_code, 124) << "the job hung until the timeout\n" << r.output;
  EXPECT_LT(secs, 100.0);
  EXPECT_NE(r.output.find("on rank 0 did not complete within 3 s (distributed.timeout_s)"), std::string::npos)
      << r.output;
#endif
}

}  // namespace
}  // namespace anvil::train
