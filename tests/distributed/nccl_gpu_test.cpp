// The NCCL communicator with one rank on one GPU (NCCL refuses two ranks on one GPU), for
// tools/gpu-check.sh. Skips without a GPU or in a build without NCCL. NOT RUN in CI (no GPU), and
// not yet run anywhere: when it first runs on a GPU machine, its result is the first evidence that
// the NCCL backend works.
#include <gtest/gtest.h>

#include <vector>

#include "distributed/communicator.h"
#include "tests/kernels/gpu_test_util.h"

namespace anvil::distributed {
namespace {

TEST(NcclGpu, OneRankCollectivesOnDeviceAndHostBuffers) {
  ANVIL_SKIP_WITHOUT_GPU();
#ifndef ANVIL_HAVE_NCCL
  GTEST_SKIP() << "built without NCCL";
#else
  LaunchInfo one;  // a single process: no id exchange needed
  auto comm = make_communicator("nccl", one, "cuda:0", 60);
  EXPECT_EQ(comm->backend(), "nccl");
  EXPECT_EQ(comm->world_size(), 1);

  // Device buffers: with one rank every collective is the identity (or a copy).
  const std::vector<float> host = {1.5f, -2.0f, 3.25f, 8.0f};
  auto buf = gputest::to_device(host);
  comm->all_reduce_sum(buf.as<float>(), host.size());
  comm->all_reduce_sum_async(buf.as<float>(), host.size())->wait();
  std::vector<float> back(host.size());
  buf.download(back.data(), back.size() * sizeof(float));
  EXPECT_EQ(back, host);
  gputest::DeviceBuffer out(host.size() * sizeof(float));
  comm->reduce_scatter_sum(buf.as<float>(), out.as<float>(), host.size());
  out.download(back.data(), back.size() * sizeof(float));
  EXPECT_EQ(back, host);
  comm->all_gather(buf.as<float>(), out.as<float>(), host.size());
  out.download(back.data(), back.size() * sizeof(float));
  EXPECT_EQ(back, host);

  // Host buffers go through a staging copy (the trainer's loss sums and config hash).
  double d[2] = {0.25, 7.0};
  comm->all_reduce_sum(d, 2);
  EXPECT_EQ(d[0], 0.25);
  EXPECT_EQ(d[1], 7.0);
  uint64_t hash = 0x1234567890abcdefull;
  comm->broadcast(&hash, sizeof hash, 0);
  EXPECT_EQ(hash, 0x1234567890abcdefull);
  comm->barrier();
#endif
}

}  // namespace
}  // namespace anvil::distributed
