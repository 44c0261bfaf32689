// Data-parallel training under mpiexec (2 and 4 ranks) equals one process on the same global batch.
//
// Every rank trains the small synthetic config (the style of tests/train/trainer_test.cpp) with the
// MPI communicator; then rank 0 alone trains the same global batch with the `none` communicator
// (world 1, world x more micro-batches per step) while the others wait, and the losses, gradient
// norms, validation loss and final weights are compared.
//
// Bit-for-bit? With one micro-batch per rank and 2 ranks it is: the single process's gradient is
// 0.5*g0 + 0.5*g1 (the 1/accum scale is a power of two, so scaling the loss scales every gradient
// exactly), DDP's is (g0 + g1) * 0.5, the same float operations. With 4 ranks MPI adds the four
// gradients as (g0 + g1) + (g2 + g3) (recursive doubling) while the single process accumulates
// ((g0 + g1) + g2) + g3, and with accumulation on each rank the partial sums group differently
// again, so rounding differs in the last bits. Bounds then: 1e-6 relative for the losses, the
// validation loss and all final weights together (norm of the difference over the norm of the
// reference); 1e-5 for each tensor alone and for the gradient norm (a float), because AdamW
// amplifies rounding in small tensors (see the key-bias note below). The test prints which case held.
#include <gtest/gtest.h>

#include <fstream>

#include "core/io/safetensors.h"
#include "data/shards/shard.h"
#include "distributed/launch.h"
#include "kernels/device_runtime.h"
#include "tests/distributed/mpi_test_util.h"
#include "tests/support/train_fixtures.h"
#include "train/checkpoint/checkpoint.h"
#include "train/trainer.h"

namespace anvil::train {
namespace {

namespace fs = std::filesystem;
using test::MpiTest;

// `accum_per_rank` micro-batches of 4 x 16 tokens on each of `world` ranks per step.
Config small_config(const fs::path& data_dir, const fs::path& out, int world, int64_t accum_per_rank,
                    const std::string& arch = "gpt2", double dropout = 0.0) {
  Config c = test::small_train_config(data_dir, out, arch);
  c.run.seed = 11;
  c.model.dropout = dropout;
  c.training.global_batch_tokens = 4 * 16 * world * accum_per_rank;
  c.training.max_steps = 6;
  c.training.eval_every = 3;
  c.training.eval_steps = 4;
  c.training.log_every = 2;
  c.training.checkpoint_every = 3;
  c.training.keep_checkpoints = 0;
  c.scheduler.warmup_steps = 2;
  c.logging.tensorboard = false;
  c.distributed.backend = "mpi";
  c.distributed.bucket_mb = 1;  // the model is ~10 KB: one bucket; the bucket test below uses more
  validate_config(c);
  return c;
}

double rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += double(b[i]) * b[i];
  }
  return std::sqrt(num) / std::max(std::sqrt(den), 1e-30);
}

class DataParallel : public MpiTest {
 protected:
  // Trains on all ranks, then on rank 0 alone, and compares. Returns whether all was bit-for-bit.
  // d_model widens the model (d_ff = 4 * d_model, 3 layers) so that 1 MB buckets split it.
  void expect_equals_single_process(int64_t accum_per_rank, const std::string& arch, double dropout,
                                    int64_t zero_stage = 0, int64_t d_model = 0) {
    const fs::path dir = shared_scratch();
    if (rank == 0) test::write_synthetic_corpus(dir / "data", 64, 8000, 3);
    comm->barrier();

    auto widen = [&](Config& c) {
      if (d_model == 0) return;
      c.model.d_model = d_model;
      c.model.d_ff = 4 * d_model;
      c.model.n_layer = 3;
      validate_config(c);
    };
    Config dist = small_config(dir / "data", dir / "dist", world, accum_per_rank, arch, dropout);
    dist.distributed.zero_stage = zero_stage;
    widen(dist);
    TrainOptions opts;
    opts.quiet = true;
    opts.communicator = comm;
    TrainSummary d = train(dist, opts);
    EXPECT_EQ(d.rank, rank);
    EXPECT_EQ(d.world_size, world);
    ASSERT_EQ(d.history.size(), 6u);
    // Only rank 0 wrote metrics: one loss line per log step (3) and one val line per eval (2).
    if (rank == 0) {
      std::ifstream jl(fs::path(dist.run.output_dir) / "metrics.jsonl");
      int lines = 0;
      for (std::string line; std::getline(jl, line);) ++lines;
      EXPECT_EQ(lines, 5);
    }

    if (rank == 0) {
      Config single = small_config(dir / "data", dir / "single", 1, accum_per_rank * world, arch, dropout);
      single.distributed.backend = "none";
      widen(single);
      TrainOptions sopts;
      sopts.quiet = true;
      sopts.communicator = distributed::make_none_communicator();
      TrainSummary s = train(single, sopts);
      ASSERT_EQ(s.history.size(), d.history.size());
      bool bitwise = true;
      for (size_t i = 0; i < s.history.size(); ++i) {
        EXPECT_NEAR(d.history[i].loss, s.history[i].loss, 1e-6 * std::abs(s.history[i].loss)) << "step " << i + 1;
        EXPECT_NEAR(d.history[i].grad_norm, s.history[i].grad_norm, 1e-5 * std::abs(s.history[i].grad_norm))
            << "step " << i + 1;
        bitwise = bitwise && d.history[i].loss == s.history[i].loss && d.history[i].grad_norm == s.history[i].grad_norm;
      }
      EXPECT_NEAR(d.last_val_loss, s.last_val_loss, 1e-6 * s.last_val_loss);
      EXPECT_LT(s.history.back().loss, s.history.front().loss);  // it did learn
      auto wd = io::read_safetensors(fs::path(dist.run.output_dir) / "checkpoints" / checkpoint_name(6) / "model.safetensors");
      auto ws = io::read_safetensors(fs::path(single.run.output_dir) / "checkpoints" / checkpoint_name(6) / "model.safetensors");
      ASSERT_EQ(wd.tensors.size(), ws.tensors.size());
      std::vector<float> all_a, all_b;
      for (auto& [name, t] : ws.tensors) {
        ASSERT_TRUE(wd.tensors.count(name)) << name;
        auto a = wd.tensors.at(name).to_f32_vector(), b = t.to_f32_vector();
        bitwise = bitwise && a == b;
        if (name.find("attn.c_attn.bias") != std::string::npos) {
          // GPT-2's key bias adds q.b_k to every score of a query, which softmax ignores: its exact
          // gradient is zero and the computed one is rounding noise (~1e-10). AdamW divides each
          // gradient by its own running magnitude, so noise still moves it by up to ~lr per step,
          // in directions that any reordering of float sums changes. It is held to that bound; the
          // query and value thirds are compared like every other tensor.
          const size_t C = a.size() / 3;
          for (size_t i = C; i < 2 * C; ++i)
            EXPECT_LE(std::abs(a[i] - b[i]), 2 * single.optimizer.lr * double(s.history.size())) << name << "[" << i << "]";
          a.erase(a.begin() + long(C), a.begin() + long(2 * C));
          b.erase(b.begin() + long(C), b.begin() + long(2 * C));
        }
        // Per tensor 1e-5: small tensors (biases, whose norm is about lr * steps) carry AdamW-amplified
        // rounding at the 1e-6 level; over all weights together (the norm of the difference over the
        // norm of the reference, as the golden checks measure) the bound is 1e-6.
        EXPECT_LE(rel_diff(a, b), 1e-5) << name;
        all_a.insert(all_a.end(), a.begin(), a.end());
        all_b.insert(all_b.end(), b.begin(), b.end());
      }
      EXPECT_LE(rel_diff(all_a, all_b), 1e-6) << "all weights";
      std::printf("[ DDP ] %d ranks, ZeRO stage %lld, %lld micro-batch(es) per rank, %s, dropout %.1f: %s\n", world,
                  static_cast<long long>(zero_stage), static_cast<long long>(accum_per_rank), arch.c_str(), dropout,
                  bitwise ? "bit-for-bit equal to one process" : "equal to one process within 1e-6 (not bit-for-bit)");
    }
  }
};

TEST_F(DataParallel, EqualsOneProcessWithoutAccumulation) { expect_equals_single_process(1, "gpt2", 0.0); }

TEST_F(DataParallel, EqualsOneProcessWithAccumulation) { expect_equals_single_process(2, "gpt2", 0.0); }

TEST_F(DataParallel, EqualsOneProcessWithDropoutLlama) {
  // Dropout checks that each rank draws the masks the single process draws for the same
  // micro-batch. (bucket_mb is whole megabytes, so this tiny model has one bucket; comm_mpi_test
  // covers several.)
  expect_equals_single_process(2, "llama", 0.1);
}

TEST_F(DataParallel, EqualsOneProcessWithSeveralBucketsFilledByTheHooks) {
  // d_model 128, 3 layers: about 0.6M parameters (2.4 MB) in 1 MB buckets, so several all-reduces
  // start from the hooks during backward, in the same order on every rank.
  expect_equals_single_process(1, "gpt2", 0.1, /*zero_stage=*/0, /*d_model=*/128);
}

TEST_F(DataParallel, ZeroStageOneEqualsOneProcessWithoutAccumulation) {
  expect_equals_single_process(1, "gpt2", 0.0, /*zero_stage=*/1);
}

TEST_F(DataParallel, ZeroStageOneEqualsOneProcessWithAccumulation) {
  expect_equals_single_process(2, "gpt2", 0.0, /*zero_stage=*/1);
}

TEST_F(DataParallel, ZeroStageOneEqualsOneProcessWithDropoutLlama) {
  expect_equals_single_process(2, "llama", 0.1, /*zero_stage=*/1);
}

// The NCCL backend on CUDA devices (one per rank) trains like the MPI backend on the CPU: DDP and
// ZeRO-1, the same losses and final weights to float reordering (CUDA sums in other orders). In CI
// the devices are the CPU emulator's and its NCCL is MPI (kernels/emu/nccl.cpp); on a GPU node the
// same test runs real NCCL.
TEST_F(DataParallel, NcclOnCudaTrainsLikeMpiOnTheCpu) {
#ifndef ANVIL_HAVE_NCCL
  GTEST_SKIP() << "built without NCCL";
#else
  if (kernels::cuda_device_count() < world) GTEST_SKIP() << "needs one CUDA device per rank";
  const fs::path dir = shared_scratch();
  if (rank == 0) test::write_synthetic_corpus(dir / "data", 64, 8000, 3);
  comm->barrier();
  const distributed::LaunchInfo launch = distributed::detect_launch(distributed::launch_environment());
  for (int64_t zero_stage : {0, 1}) {
    const std::string tag = "zero" + std::to_string(zero_stage);
    Config on_cpu = small_config(dir / "data", dir / ("mpi_" + tag), world, 1);
    on_cpu.distributed.zero_stage = zero_stage;
    TrainOptions cpu_opts;
    cpu_opts.quiet = true;
    cpu_opts.communicator = comm;
    const TrainSummary a = train(on_cpu, cpu_opts);

    Config on_gpu = small_config(dir / "data", dir / ("nccl_" + tag), world, 1);
    on_gpu.run.device = "cuda";
    on_gpu.distributed.backend = "nccl";
    on_gpu.distributed.zero_stage = zero_stage;
    validate_config(on_gpu);
    TrainOptions gpu_opts;
    gpu_opts.quiet = true;
    gpu_opts.communicator = distributed::make_communicator("nccl", launch, "cuda", 60);
    EXPECT_EQ(gpu_opts.communicator->backend(), "nccl");
    const TrainSummary b = train(on_gpu, gpu_opts);

    ASSERT_EQ(a.history.size(), b.history.size());
    for (size_t i = 0; i < a.history.size(); ++i)
      EXPECT_NEAR(b.history[i].loss, a.history[i].loss, 1e-4 * a.history[i].loss) << tag << " step " << i + 1;
    EXPECT_NEAR(b.last_val_loss, a.last_val_loss, 1e-4 * a.last_val_loss) << tag;
    if (rank == 0) {
      auto wa = io::read_safetensors(fs::path(on_cpu.run.output_dir) / "checkpoints" / checkpoint_name(6) / "model.safetensors");
      auto wb = io::read_safetensors(fs::path(on_gpu.run.output_dir) / "checkpoints" / checkpoint_name(6) / "model.safetensors");
      std::vector<float> all_a, all_b;
      for (auto& [name, t] : wa.tensors) {
        ASSERT_TRUE(wb.tensors.count(name)) << name;
        auto x = t.to_f32_vector(), y = wb.tensors.at(name).to_f32_vector();
        all_a.insert(all_a.end(), x.begin(), x.end());
        all_b.insert(all_b.end(), y.begin(), y.end());
      }
      EXPECT_LE(rel_diff(all_b, all_a), 1e-4) << tag << ": final weights";
    }
  }
#endif
}

TEST_F(DataParallel, MismatchedConfigsAcrossRanksAreAnError) {
  const fs::path dir = shared_scratch();
  if (rank == 0) test::write_synthetic_corpus(dir / "data", 64, 4000, 5);
  comm->barrier();
  Config c = small_config(dir / "data", dir / "run", world, 1);
  if (rank == world - 1) c.optimizer.lr *= 2;  // one rank was given another override
  TrainOptions opts;
  opts.quiet = true;
  opts.communicator = comm;
  try {
    train(c, opts);
    ADD_FAILURE() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("config"), std::string::npos) << e.what();
    if (rank == world - 1) {
      EXPECT_NE(std::string(e.what()).find("differs from rank 0"), std::string::npos) << e.what();
    }
  }
}

TEST_F(DataParallel, ResumesWithTheSameResultAsAnUninterruptedRun) {
  const fs::path dir = shared_scratch();
  if (rank == 0) test::write_synthetic_corpus(dir / "data", 64, 8000, 6);
  comm->barrier();
  TrainOptions opts;
  opts.quiet = true;
  opts.communicator = comm;
  for (int zero_stage : {0, 1}) {
    const std::string tag = "zero" + std::to_string(zero_stage);
    Config full_cfg = small_config(dir / "data", dir / (tag + "_full"), world, 1);
    full_cfg.distributed.zero_stage = zero_stage;
    TrainSummary full = train(full_cfg, opts);
    Config cut_cfg = small_config(dir / "data", dir / (tag + "_cut"), world, 1);
    cut_cfg.distributed.zero_stage = zero_stage;
    TrainOptions stop = opts;
    stop.stop_after_step = 4;
    TrainSummary first = train(cut_cfg, stop);
    TrainSummary second = train(cut_cfg, opts);
    EXPECT_EQ(second.resumed_from, 4);
    ASSERT_EQ(first.history.size() + second.history.size(), full.history.size());
    for (size_t i = 0; i < second.history.size(); ++i)  // same ranks, same reductions: exact
      EXPECT_EQ(second.history[i].loss, full.history[i + 4].loss) << tag << " step " << i + 5;
  }
}

class Resharding : public DataParallel, public ::testing::WithParamInterface<int> {};

TEST_P(Resharding, CheckpointsResumeOnADifferentNumberOfRanks) {
  // Checkpoints hold the full state (every rank's is the same; ZeRO-1 gathers its moment shards
  // into the plain AdamW's tensors) and the loader's position in windows, so a run can continue on
  // any number of ranks that divides the global batch, with or without ZeRO.
  const int zero_stage = GetParam();
  const fs::path dir = shared_scratch();
  if (rank == 0) test::write_synthetic_corpus(dir / "data", 64, 8000, 7);
  comm->barrier();
  TrainOptions opts;
  opts.quiet = true;
  opts.communicator = comm;
  TrainOptions alone;
  alone.quiet = true;
  alone.communicator = distributed::make_none_communicator();

  Config full_cfg = small_config(dir / "data", dir / "full", world, 1);
  full_cfg.distributed.zero_stage = zero_stage;
  const TrainSummary full = train(full_cfg, opts);  // N ranks, steps 1..6, checkpoints at 3 and 6
  ASSERT_EQ(full.history.size(), 6u);

  // One process for steps 1..3, then N ranks resume it for steps 4..6.
  Config up_cfg = small_config(dir / "data", dir / "up", world, 1);
  up_cfg.distributed.zero_stage = zero_stage;
  if (rank == 0) {
    Config single = small_config(dir / "data", dir / "up", 1, world);
    single.distributed.backend = "none";
    TrainOptions stop = alone;
    stop.stop_after_step = 3;
    train(single, stop);
  }
  comm->barrier();
  const TrainSummary up = train(up_cfg, opts);
  EXPECT_EQ(up.resumed_from, 3);
  ASSERT_EQ(up.history.size(), 3u);
  for (size_t i = 0; i < 3; ++i)
    EXPECT_NEAR(up.history[i].loss, full.history[i + 3].loss, 1e-6 * full.history[i + 3].loss) << "step " << i + 4;

  // N ranks' step-3 checkpoint continued by one process for steps 4..6.
  if (rank == 0) {
    Config single = small_config(dir / "data", dir / "down", 1, world);
    single.distributed.backend = "none";
    single.training.resume = (fs::path(full_cfg.run.output_dir) / "checkpoints" / checkpoint_name(3)).string();
    const TrainSummary down = train(single, alone);
    EXPECT_EQ(down.resumed_from, 3);
    ASSERT_EQ(down.history.size(), 3u);
    for (size_t i = 0; i < 3; ++i)
      EXPECT_NEAR(down.history[i].loss, full.history[i + 3].loss, 1e-6 * full.history[i + 3].loss) << "step " << i + 4;
  }
}

INSTANTIATE_TEST_SUITE_P(ZeroStage, Resharding, ::testing::Values(0, 1));

}  // namespace
}  // namespace anvil::train
