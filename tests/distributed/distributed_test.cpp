// The distributed layer without mpiexec: launch detection from fake environments, the `none`
// communicator, make_communicator's choices and errors, single-process DDP plumbing, and the
// config's distributed section (keys, validation, round trip).
#include <gtest/gtest.h>

#include <fstream>

#include "core/base/error.h"
#include "core/ops/ops.h"
#include "distributed/communicator.h"
#include "distributed/ddp.h"
#include "distributed/launch.h"
#include "tests/support/test_paths.h"
#include "train/config/config.h"
#include "train/trainer.h"

namespace anvil::distributed {
namespace {

// The ConfigError message detect_launch throws (fails the test when nothing is thrown).
std::string launch_error(const EnvMap& env) {
  try {
    detect_launch(env);
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a ConfigError";
  return "";
}

TEST(Launch, NoLauncherIsOneProcess) {
  const LaunchInfo info = detect_launch({{"HOME", "/root"}});
  EXPECT_EQ(info, LaunchInfo{});
  EXPECT_EQ(info.launcher, "none");
  EXPECT_EQ(info.world_size, 1);
}

TEST(Launch, ReadsOpenMpi) {
  const LaunchInfo info = detect_launch(
      {{"OMPI_COMM_WORLD_RANK", "3"}, {"OMPI_COMM_WORLD_SIZE", "8"}, {"OMPI_COMM_WORLD_LOCAL_RANK", "1"}});
  EXPECT_EQ(info.launcher, "openmpi");
  EXPECT_EQ(info.rank, 3);
  EXPECT_EQ(info.world_size, 8);
  EXPECT_EQ(info.local_rank, 1);
}

TEST(Launch, ReadsSlurm) {
  const LaunchInfo info = detect_launch({{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "16"}, {"SLURM_LOCALID", "5"}});
  EXPECT_EQ(info.launcher, "slurm");
  EXPECT_EQ(info.rank, 5);
  EXPECT_EQ(info.world_size, 16);
  EXPECT_EQ(info.local_rank, 5);
}

TEST(Launch, ReadsTorchrunWithTheRendezvousAddress) {
  const LaunchInfo info = detect_launch({{"RANK", "2"}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "0"},
                                         {"MASTER_ADDR", "node7"}, {"MASTER_PORT", "29500"}});
  EXPECT_EQ(info.launcher, "torchrun");
  EXPECT_EQ(info.rank, 2);
  EXPECT_EQ(info.world_size, 4);
  EXPECT_EQ(info.local_rank, 0);
  EXPECT_EQ(info.master_addr, "node7");
  EXPECT_EQ(info.master_port, 29500);
}

TEST(Launch, MissingLocalRankDefaultsToZero) {
  EXPECT_EQ(detect_launch({{"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "2"}}).local_rank, 0);
}

TEST(Launch, PerProcessLaunchersWinOverTheSlurmAllocation) {
  // mpirun -np 4 inside `sbatch -n 4`: the batch step's SLURM_PROCID is 0 in every process.
  const LaunchInfo mpi = detect_launch({{"OMPI_COMM_WORLD_RANK", "2"}, {"OMPI_COMM_WORLD_SIZE", "4"},
                                        {"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "4"}});
  EXPECT_EQ(mpi.launcher, "openmpi");
  EXPECT_EQ(mpi.rank, 2);
  // torchrun on each node of an srun step: RANK is global, SLURM_PROCID is the node's task.
  const LaunchInfo torch = detect_launch({{"RANK", "5"}, {"WORLD_SIZE", "8"}, {"MASTER_ADDR", "a"},
                                          {"MASTER_PORT", "1234"}, {"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "2"}});
  EXPECT_EQ(torch.launcher, "torchrun");
  EXPECT_EQ(torch.rank, 5);
  EXPECT_EQ(torch.world_size, 8);
}

TEST(Launch, OpenMpiAndTorchrunMustAgree) {
  EXPECT_EQ(detect_launch({{"OMPI_COMM_WORLD_RANK", "1"}, {"OMPI_COMM_WORLD_SIZE", "2"}, {"RANK", "1"},
                           {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "9"}})
                .rank,
            1);
  const std::string msg = launch_error({{"OMPI_COMM_WORLD_RANK", "1"}, {"OMPI_COMM_WORLD_SIZE", "2"},
                                        {"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "9"}});
  EXPECT_NE(msg.find("openmpi and torchrun variables disagree"), std::string::npos) << msg;
  EXPECT_NE(msg.find("OMPI_COMM_WORLD_RANK=1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("RANK=0"), std::string::npos) << msg;
}

TEST(Launch, InconsistentVariablesNameTheVariable) {
  std::string msg = launch_error({{"RANK", "4"}, {"WORLD_SIZE", "4"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "9"}});
  EXPECT_NE(msg.find("RANK=4 is not below WORLD_SIZE=4"), std::string::npos) << msg;
  msg = launch_error({{"SLURM_PROCID", "1"}});
  EXPECT_NE(msg.find("SLURM_PROCID is set but SLURM_NTASKS is not"), std::string::npos) << msg;
  msg = launch_error({{"OMPI_COMM_WORLD_SIZE", "2"}});
  EXPECT_NE(msg.find("OMPI_COMM_WORLD_SIZE is set but OMPI_COMM_WORLD_RANK is not"), std::string::npos) << msg;
  msg = launch_error({{"RANK", "x1"}, {"WORLD_SIZE", "2"}});
  EXPECT_NE(msg.find("RANK='x1' is not a non-negative integer"), std::string::npos) << msg;
  msg = launch_error({{"RANK", "-1"}, {"WORLD_SIZE", "2"}});
  EXPECT_NE(msg.find("RANK='-1'"), std::string::npos) << msg;
  msg = launch_error({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "0"}});
  EXPECT_NE(msg.find("SLURM_NTASKS must be at least 1"), std::string::npos) << msg;
  msg = launch_error({{"OMPI_COMM_WORLD_RANK", "0"}, {"OMPI_COMM_WORLD_SIZE", "2"}, {"OMPI_COMM_WORLD_LOCAL_RANK", "2"}});
  EXPECT_NE(msg.find("OMPI_COMM_WORLD_LOCAL_RANK=2 is not below OMPI_COMM_WORLD_SIZE=2"), std::string::npos) << msg;
}

TEST(Launch, TorchrunNeedsTheRendezvousForMoreThanOneRank) {
  std::string msg = launch_error({{"RANK", "0"}, {"WORLD_SIZE", "2"}});
  EXPECT_NE(msg.find("needs MASTER_ADDR and MASTER_PORT"), std::string::npos) << msg;
  msg = launch_error({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}});
  EXPECT_NE(msg.find("MASTER_PORT is not set"), std::string::npos) << msg;
  msg = launch_error({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "70000"}});
  EXPECT_NE(msg.find("MASTER_PORT=70000 is not a TCP port"), std::string::npos) << msg;
  // One rank needs no rendezvous.
  EXPECT_EQ(detect_launch({{"RANK", "0"}, {"WORLD_SIZE", "1"}}).world_size, 1);
}

TEST(Distributed, NoneCommunicatorIsTheIdentity) {
  auto comm = make_none_communicator();
  EXPECT_EQ(comm->rank(), 0);
  EXPECT_EQ(comm->world_size(), 1);
  EXPECT_EQ(comm->backend(), "none");
  std::vector<float> v = {1.5f, -2.0f, 3.25f};
  comm->all_reduce_sum(v.data(), v.size());
  comm->all_reduce_avg(v.data(), v.size());
  comm->all_reduce_sum_async(v.data(), v.size())->wait();
  EXPECT_EQ(v, (std::vector<float>{1.5f, -2.0f, 3.25f}));
  std::vector<float> out(3, 0.0f);
  comm->reduce_scatter_sum(v.data(), out.data(), 3);
  EXPECT_EQ(out, v);
  std::fill(out.begin(), out.end(), 0.0f);
  comm->all_gather(v.data(), out.data(), 3);
  EXPECT_EQ(out, v);
  comm->broadcast(v.data(), v.size(), 0);
  EXPECT_EQ(v, (std::vector<float>{1.5f, -2.0f, 3.25f}));
  EXPECT_THROW(comm->broadcast(v.data(), v.size(), 1), RuntimeFailure);
  comm->barrier();
}

TEST(Distributed, MakeCommunicatorChoosesAndExplains) {
  LaunchInfo one;
  EXPECT_EQ(make_communicator("auto", one, "cpu", 60)->backend(), "none");
  EXPECT_EQ(make_communicator("none", one, "cpu", 60)->backend(), "none");
  LaunchInfo four;
  four.world_size = 4;
  four.rank = 1;
  four.launcher = "torchrun";
  try {
    make_communicator("none", four, "cpu", 60);
    ADD_FAILURE() << "backend none with 4 launched processes must be refused";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("started 4 processes"), std::string::npos) << e.what();
  }
  // nccl needs a CUDA device whatever the build.
  EXPECT_THROW(make_communicator("nccl", four, "cpu", 60), ConfigError);
  EXPECT_THROW(make_communicator("gloo", one, "cpu", 60), ConfigError);
  // mpi refuses a torchrun launch: MPI would see a world of one.
  if (backend_available("mpi")) EXPECT_THROW(make_communicator("mpi", four, "cpu", 60), ConfigError);
  else EXPECT_THROW(make_communicator("mpi", one, "cpu", 60), ConfigError);
  EXPECT_TRUE(backend_available("none"));
}

TEST(Distributed, GradSyncOnOneRankKeepsGradientsAndBucketsBySize) {
  Tensor a = Tensor::zeros({10}).set_requires_grad(true);  // 40 bytes
  Tensor b = Tensor::zeros({20}).set_requires_grad(true);  // 80 bytes
  Tensor c = Tensor::zeros({5}).set_requires_grad(true);   // 20 bytes
  // Reverse order: c (20 B), then b (reaches 100 >= 64: bucket closed), then a alone.
  GradSync sync(make_none_communicator(), {a, b, c}, 64);
  EXPECT_EQ(sync.bucket_count(), 2);
  GradSync one_bucket(make_none_communicator(), {a, b, c}, 1 << 20);
  EXPECT_EQ(one_bucket.bucket_count(), 1);
  sync.begin_sync();
  Tensor y = ops::add(ops::add(ops::sum(ops::mul_scalar(a, 2.0f)), ops::sum(ops::mul_scalar(b, 3.0f))),
                      ops::sum(ops::mul_scalar(c, 4.0f)));
  y.backward();
  EXPECT_EQ(sync.buckets_started_in_backward(), 2);
  sync.finish();
  for (float g : a.grad().to_f32_vector()) EXPECT_EQ(g, 2.0f);
  for (float g : b.grad().to_f32_vector()) EXPECT_EQ(g, 3.0f);
  for (float g : c.grad().to_f32_vector()) EXPECT_EQ(g, 4.0f);
}

TEST(Distributed, HooksOfADestroyedGradSyncDoNothing) {
  Tensor a = Tensor::zeros({3}).set_requires_grad(true);
  { GradSync sync(make_none_communicator(), {a}, 1024); }
  ops::sum(a).backward();  // the hook's weak reference has expired: no crash, no effect
  EXPECT_EQ(a.grad().to_f32_vector(), (std::vector<float>{1.0f, 1.0f, 1.0f}));
}

}  // namespace
}  // namespace anvil::distributed

namespace anvil::train {
namespace {

namespace fs = std::filesystem;

std::string config_error(const std::string& text) {
  fs::path p = test::scratch_dir() / "c.yaml";
  std::ofstream(p) << text << "\nmodel: {}\ndata: {}\n";  // every config needs both sections
  try {
    load_config(p);
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a ConfigError for:\n" << text;
  return "";
}

TEST(DistributedConfig, DefaultsAndKeysLoad) {
  const Config d = default_config();
  EXPECT_EQ(d.distributed.backend, "auto");
  EXPECT_EQ(d.distributed.bucket_mb, 25);
  EXPECT_EQ(d.distributed.zero_stage, 0);
  fs::path p = test::scratch_dir() / "c.yaml";
  std::ofstream(p) << "model: {}\ndata: {}\ndistributed: {backend: mpi, bucket_mb: 8, timeout_s: 30}\n";
  const Config c = load_config(p, {"distributed.backend=none"});
  EXPECT_EQ(c.distributed.backend, "none");  // the override wins
  EXPECT_EQ(c.distributed.bucket_mb, 8);
  EXPECT_EQ(c.distributed.timeout_s, 30);
  // Round trip through the resolved YAML, and the hash sees the section.
  fs::path back = test::scratch_dir() / "back.yaml";
  std::ofstream(back) << config_to_yaml(c);
  EXPECT_EQ(load_config(back).distributed, c.distributed);
  Config other = c;
  other.distributed.bucket_mb = 9;
  EXPECT_NE(config_hash(other), config_hash(c));
}

TEST(DistributedConfig, BadValuesAreErrorsWithTheKey) {
  std::string msg = config_error("distributed:\n  backend: gloo\n");
  EXPECT_NE(msg.find("c.yaml:2:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("distributed.backend: expected one of auto, nccl, mpi, none"), std::string::npos) << msg;
  msg = config_error("distributed: {bucket_mb: 0}\n");
  EXPECT_NE(msg.find("distributed.bucket_mb"), std::string::npos) << msg;
  msg = config_error("distributed: {bucket_mb: 5000}\n");
  EXPECT_NE(msg.find("distributed.bucket_mb: expected at most 4096"), std::string::npos) << msg;
  msg = config_error("distributed: {zero_stage: 2}\n");
  EXPECT_NE(msg.find("distributed.zero_stage"), std::string::npos) << msg;
  msg = config_error("distributed: {backend: nccl}\n");
  EXPECT_NE(msg.find("nccl needs run.device cuda"), std::string::npos) << msg;
  msg = config_error("distributed: {bucket_mbs: 4}\n");
  EXPECT_NE(msg.find("bucket_mb"), std::string::npos) << msg;  // did you mean
}

TEST(DistributedConfig, ZeroStageOneNeedsAdamWWhenTraining) {
  Config c = default_config();
  c.optimizer.name = "sgd";
  c.distributed.zero_stage = 1;
  c.run.output_dir = (test::scratch_dir() / "run").string();
  TrainOptions opts;
  opts.quiet = true;
  opts.communicator = distributed::make_none_communicator();
  try {
    train(c, opts);
    ADD_FAILURE() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("distributed.zero_stage: 1 shards AdamW's moments, but optimizer.name is sgd"),
              std::string::npos)
        << e.what();
  }
}

TEST(DistributedConfig, GlobalBatchMustDivideAcrossRanks) {
  Config c = default_config();
  c.training.micro_batch_size = 4;
  c.data.seq_len = 16;
  c.model.max_seq_len = 16;
  c.training.global_batch_tokens = 4 * 16 * 6;
  EXPECT_EQ(grad_accum_steps(c, 1), 6);
  EXPECT_EQ(grad_accum_steps(c, 2), 3);
  EXPECT_EQ(grad_accum_steps(c, 3), 2);
  try {
    grad_accum_steps(c, 4);
    ADD_FAILURE() << "384 tokens do not split over 4 ranks of 64";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("world_size"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace anvil::train
