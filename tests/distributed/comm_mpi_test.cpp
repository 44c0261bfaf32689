// The MPI communicator's collectives and DDP gradient averaging, checked on every rank against
// values computed by hand. Runs under mpiexec with 2 and 4 ranks (ctest -L mpi).
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "core/ops/ops.h"
#include "distributed/ddp.h"
#include "distributed/launch.h"
#include "distributed/zero.h"
#include "optim/clip.h"
#include "optim/optim.h"
#include "tests/distributed/mpi_test_util.h"

namespace anvil::distributed {
namespace {

using test::MpiTest;

TEST_F(MpiTest, RankAndWorldMatchTheLauncher) {
  LaunchInfo launch = detect_launch(launch_environment());
  EXPECT_EQ(launch.launcher, "openmpi");
  EXPECT_EQ(comm->rank(), launch.rank);
  EXPECT_EQ(comm->world_size(), launch.world_size);
  EXPECT_EQ(comm->local_rank(), launch.local_rank);
  if (const char* np = std::getenv("ANVIL_MPI_TEST_NP")) {
    EXPECT_EQ(world, std::atoi(np));
  }
  EXPECT_EQ(comm->backend(), "mpi");
  // make_communicator agrees with the launch (auto picks mpi for more than one rank).
  auto made = make_communicator("auto", launch, "cpu", 60);
  EXPECT_EQ(made->backend(), "mpi");
  EXPECT_EQ(made->rank(), rank);
  EXPECT_THROW(make_communicator("none", launch, "cpu", 60), ConfigError);
}

TEST_F(MpiTest, AllReduceSumsAndAveragesOnEveryRank) {
  // Rank r holds r + 1 + i * 0.5 at index i; the sum is world*(world+1)/2 + world * i * 0.5.
  const size_t n = 1001;
  std::vector<float> v(n), a(n);
  for (size_t i = 0; i < n; ++i) v[i] = a[i] = float(rank + 1) + float(i) * 0.5f;
  comm->all_reduce_sum(v.data(), n);
  comm->all_reduce_avg(a.data(), n);
  for (size_t i = 0; i < n; ++i) {
    const float want = float(world * (world + 1) / 2) + float(world) * float(i) * 0.5f;
    EXPECT_EQ(v[i], want) << "index " << i;  // small integers and halves: exact in f32
    EXPECT_FLOAT_EQ(a[i], want / float(world)) << "index " << i;
  }
  double d[2] = {1.0 * rank, 0.25};
  comm->all_reduce_sum(d, 2);
  EXPECT_EQ(d[0], world * (world - 1) / 2.0);
  EXPECT_EQ(d[1], 0.25 * world);
}

TEST_F(MpiTest, AsyncAllReduceCompletesOnWait) {
  std::vector<float> v(300, float(rank));
  auto work = comm->all_reduce_sum_async(v.data(), v.size());
  work->wait();
  for (float x : v) EXPECT_EQ(x, float(world * (world - 1) / 2));
}

TEST_F(MpiTest, ReduceScatterGivesEachRankItsSummedBlock) {
  const size_t block = 7;
  // Rank r sends, for block b, element j: 100*b + j + r.
  std::vector<float> send(block * size_t(world)), recv(block, -1.0f);
  for (int b = 0; b < world; ++b)
    for (size_t j = 0; j < block; ++j) send[size_t(b) * block + j] = float(100 * b) + float(j) + float(rank);
  comm->reduce_scatter_sum(send.data(), recv.data(), block);
  const float rank_sum = float(world * (world - 1) / 2);
  for (size_t j = 0; j < block; ++j)
    EXPECT_EQ(recv[j], float(world) * (float(100 * rank) + float(j)) + rank_sum) << "element " << j;
}

TEST_F(MpiTest, AllGatherConcatenatesInRankOrder) {
  const size_t block = 5;
  std::vector<float> send(block), recv(block * size_t(world), -1.0f);
  for (size_t j = 0; j < block; ++j) send[j] = float(10 * rank) + float(j);
  comm->all_gather(send.data(), recv.data(), block);
  for (int r = 0; r < world; ++r)
    for (size_t j = 0; j < block; ++j) EXPECT_EQ(recv[size_t(r) * block + j], float(10 * r) + float(j));
}

TEST_F(MpiTest, BroadcastCopiesTheRootsBytesAndFloats) {
  for (int root = 0; root < world; ++root) {
    char text[24] = {};
    if (rank == root) std::snprintf(text, sizeof text, "from rank %d", root);
    comm->broadcast(text, sizeof text, root);
    EXPECT_EQ(std::string(text), "from rank " + std::to_string(root));
    std::vector<float> f(9, float(rank));
    comm->broadcast(f.data(), f.size(), root);
    for (float x : f) EXPECT_EQ(x, float(root));
  }
  comm->barrier();
}

// y = sum(w1 * x) + sum(w2 * x * x) with rank-dependent x: the gradients are x and x*x, so the
// averages over ranks are known in closed form.
struct TwoParams {
  Tensor w1 = Tensor::zeros({3, 5}).set_requires_grad(true);
  Tensor w2 = Tensor::zeros({40}).set_requires_grad(true);
  void backward_once(float x, float scale) {
    Tensor x1 = Tensor::full({3, 5}, x), x2 = Tensor::full({40}, x * x);
    Tensor y = ops::add(ops::sum(ops::mul(w1, x1)), ops::sum(ops::mul(w2, x2)));
    ops::mul_scalar(y, scale).backward();
  }
};

TEST_F(MpiTest, GradSyncAveragesGradientsInBucketsFromTheHooks) {
  TwoParams m;
  // 64 bytes per bucket: w2 (160 bytes) alone, then w1 (60 bytes): two buckets.
  GradSync sync(comm, {m.w1, m.w2}, 64);
  EXPECT_EQ(sync.bucket_count(), 2);
  const float x = float(rank + 1);
  sync.begin_sync();
  m.backward_once(x, 1.0f);
  EXPECT_EQ(sync.buckets_started_in_backward(), 2);  // both started from hooks, none by finish()
  sync.finish();
  // Average over ranks of (r+1) and (r+1)^2.
  double mean1 = 0, mean2 = 0;
  for (int r = 0; r < world; ++r) {
    mean1 += (r + 1.0) / world;
    mean2 += (r + 1.0) * (r + 1.0) / world;
  }
  for (float g : m.w1.grad().to_f32_vector()) EXPECT_FLOAT_EQ(g, float(mean1));
  for (float g : m.w2.grad().to_f32_vector()) EXPECT_FLOAT_EQ(g, float(mean2));
}

TEST_F(MpiTest, GradSyncCommunicatesOnlyOnTheLastMicroStep) {
  TwoParams m;
  GradSync sync(comm, {m.w1, m.w2}, 1 << 20);
  EXPECT_EQ(sync.bucket_count(), 1);
  // Three micro-steps of 1/3 each with x = rank + 1, rank + 2, rank + 3; only the last syncs.
  m.backward_once(float(rank + 1), 1.0f / 3);
  m.backward_once(float(rank + 2), 1.0f / 3);
  // Before the last micro-step nothing was exchanged: the gradient is still this rank's own.
  EXPECT_FLOAT_EQ(m.w1.grad().to_f32_vector()[0], float(2 * rank + 3) / 3.0f);
  sync.begin_sync();
  m.backward_once(float(rank + 3), 1.0f / 3);
  sync.finish();
  double mean1 = 0;
  for (int r = 0; r < world; ++r) mean1 += (3.0 * r + 6.0) / 3.0 / world;
  for (float g : m.w1.grad().to_f32_vector()) EXPECT_NEAR(g, mean1, 1e-5 * mean1);
}

TEST_F(MpiTest, GradSyncSendsZerosForAParameterWithoutGradient) {
  // Only rank 0 gives w2 a gradient; the others contribute zeros and still receive the average.
  TwoParams m;
  GradSync sync(comm, {m.w1, m.w2}, 64);
  sync.begin_sync();
  if (rank == 0) {
    m.backward_once(2.0f, 1.0f);
  } else {
    Tensor y = ops::sum(ops::mul(m.w1, Tensor::full({3, 5}, 2.0f)));
    y.backward();
  }
  sync.finish();
  ASSERT_TRUE(m.w2.grad().defined());
  for (float g : m.w2.grad().to_f32_vector()) EXPECT_FLOAT_EQ(g, 4.0f / float(world));
  for (float g : m.w1.grad().to_f32_vector()) EXPECT_FLOAT_EQ(g, 2.0f);
}

TEST_F(MpiTest, BroadcastParametersCopiesRankZerosValues) {
  Tensor w = Tensor::full({4, 4}, float(rank + 7)).set_requires_grad(true);
  broadcast_parameters(*comm, {w}, 0);
  for (float v : w.to_f32_vector()) EXPECT_EQ(v, 7.0f);
}

// ZeRO-1 against the plain AdamW on the averaged gradients, which every rank can compute alone.
// Odd sizes make shards start and end inside parameters; max_norm 0.5 makes clipping act.
TEST_F(MpiTest, ZeroAdamWEqualsPlainAdamWOnTheAveragedGradients) {
  Generator init(5);
  const std::vector<Shape> shapes = {{7, 3}, {5}, {11, 2}, {1}};
  std::vector<Tensor> zp, pp;
  for (size_t i = 0; i < shapes.size(); ++i) {
    Tensor w = Tensor::randn(shapes[i], init);
    zp.push_back(w.clone().set_requires_grad(true).set_name("p" + std::to_string(i)));
    pp.push_back(w.clone().set_requires_grad(true).set_name("p" + std::to_string(i)));
  }
  auto groups = [](const std::vector<Tensor>& ps) {
    return std::vector<optim::ParamGroup>{{{ps[0], ps[2]}, 0.1f, "decay"}, {{ps[1], ps[3]}, 0.0f, "no_decay"}};
  };
  ZeroAdamW zero(comm, groups(zp), 0.9f, 0.95f, 1e-8f);
  auto plain = optim::make_adamw(groups(pp), 0.9f, 0.95f, 1e-8f);
  EXPECT_EQ(zero.numel(), 21 + 5 + 22 + 1);
  EXPECT_EQ(zero.shard_size(), (49 + world - 1) / world);
  for (int step = 1; step <= 3; ++step) {
    for (size_t i = 0; i < shapes.size(); ++i) {
      // Rank r's gradient: g_i(step) * (r + 1); the average is g_i * (world + 1) / 2.
      Generator gg(100 + uint64_t(step) * 10 + i);
      Tensor g = Tensor::randn(shapes[i], gg);
      zp[i].set_grad(ops::mul_scalar(g, float(rank + 1)));
      pp[i].set_grad(ops::mul_scalar(g, float(world + 1) / 2.0f));
    }
    // Through the Optimizer interface, as the trainer drives both.
    optim::Optimizer& as_optimizer = zero;
    const float zn = as_optimizer.clip_grad_norm(0.5f);
    as_optimizer.step(1e-2f);
    as_optimizer.zero_grad();
    const float pn = optim::clip_grad_norm(pp, 0.5f);
    plain->step(1e-2f);
    plain->zero_grad();
    EXPECT_NEAR(zn, pn, 1e-5 * pn) << "step " << step;
    for (size_t i = 0; i < shapes.size(); ++i) {
      EXPECT_FALSE(zp[i].grad().defined());
      const auto a = zp[i].to_f32_vector(), b = pp[i].to_f32_vector();
      for (size_t j = 0; j < a.size(); ++j) EXPECT_NEAR(a[j], b[j], 1e-5) << "param " << i << "[" << j << "] step " << step;
    }
  }
  // The gathered state is the plain optimizer's, name for name; loading it back round-trips.
  auto zs = zero.state_tensors();
  auto ps = plain->state_tensors();
  ASSERT_EQ(zs.size(), ps.size());
  for (auto& [name, t] : ps) {
    ASSERT_TRUE(zs.count(name)) << name;
    const auto a = zs.at(name).to_f32_vector(), b = t.to_f32_vector();
    for (size_t j = 0; j < a.size(); ++j) EXPECT_NEAR(a[j], b[j], 1e-5 * (std::abs(b[j]) + 1e-3)) << name;
  }
  EXPECT_EQ(zero.state_scalars().at("step"), 3);
  ZeroAdamW again(comm, groups(zp), 0.9f, 0.95f, 1e-8f);
  again.load_state(zs, zero.state_scalars());
  EXPECT_EQ(again.step_count(), 3);
  auto back = again.state_tensors();
  for (auto& [name, t] : zs) EXPECT_EQ(back.at(name).to_f32_vector(), t.to_f32_vector()) << name;
  auto missing = zs;
  missing.erase("m.p1");
  EXPECT_THROW(again.load_state(missing, zero.state_scalars()), CheckpointError);
}

}  // namespace
}  // namespace anvil::distributed
