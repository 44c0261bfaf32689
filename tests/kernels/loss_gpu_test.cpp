// CUDA fused softmax + cross-entropy (kernels/cuda/loss.h) against double-precision formulas: odd
// widths, a padded vocabulary (ld > vocab), ignore_index rows and per-row upstream gradients.
#include <cmath>

#include "kernels/cuda/loss.h"
#include "tests/kernels/gpu_test_util.h"

namespace anvil {
namespace {

namespace cuda = kernels::cuda;
using gputest::all_close;
using gputest::DeviceTensor;
using gputest::random_normal;
using gputest::round_to;
using gputest::softmax_row;

TEST(LossGpu, FusedCrossEntropyLossAndDlogitsInPlace) {
  ANVIL_SKIP_WITHOUT_GPU();
  const int64_t rows = 9, vocab = 1001, ld = 1008, ignore = -100;
  for (DType t : {DType::F32, DType::BF16}) {
    auto logits = round_to(random_normal(rows * ld, 31, 4.0f), t);
    std::vector<int64_t> targets(rows);
    for (int64_t r = 0; r < rows; ++r) targets[r] = int64_t(Philox4x32::word(32, r) % vocab);
    targets[3] = ignore;
    auto upstream = gputest::random_uniform(rows, 33, 0.5f, 1.5f);
    const float scale = 1.0f / (rows - 1);
    std::vector<double> loss(rows), grad(rows * ld, 0.0);
    for (int64_t r = 0; r < rows; ++r) {
      if (targets[r] == ignore) continue;
      auto y = softmax_row(&logits[r * ld], vocab);
      loss[r] = -std::log(y[targets[r]]);
      for (int64_t c = 0; c < vocab; ++c) grad[r * ld + c] = scale * upstream[r] * (y[c] - (c == targets[r]));
    }
    DeviceTensor dl(logits, t), dloss(rows, DType::F32), dup(upstream, DType::F32);
    auto dt = gputest::to_device(targets);
    cuda::CrossEntropyArgs a;
    a.dtype = t;
    a.logits = dl.data();
    a.rows = rows;
    a.vocab = vocab;
    a.ld = ld;
    a.targets = dt.as<int64_t>();
    a.ignore_index = ignore;
    a.losses = dloss.buf.as<float>();
    a.dloss_scale = scale;
    a.dloss_per_row = dup.buf.as<float>();
    cuda::cross_entropy_fused(a);
    EXPECT_TRUE(all_close(dloss.read(), loss, {1e-5, 1e-5}, "cross-entropy loss " + std::string(dtype_name(t))));
    const auto got = dl.read();
    const auto tol = t == DType::F32 ? gputest::Tolerance{1e-5, 1e-6} : gputest::tolerance_for(t);
    EXPECT_TRUE(all_close(got, grad, tol, "dlogits " + std::string(dtype_name(t))));
    for (int64_t c = 0; c < ld; ++c) ASSERT_EQ(got[3 * ld + c], 0.0f) << "ignored row must get zero gradient";
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = vocab; c < ld; ++c) ASSERT_EQ(got[r * ld + c], 0.0f) << "padded column " << c;
  }
}

TEST(LossGpu, LossOnlyLeavesLogitsAndFlagsBadTargets) {
  ANVIL_SKIP_WITHOUT_GPU();
  const int64_t rows = 3, vocab = 50;
  auto logits = random_normal(rows * vocab, 41);
  std::vector<int64_t> targets = {4, vocab + 7, 0};  // row 1 is out of range
  DeviceTensor dl(logits, DType::F32), dloss(rows, DType::F32);
  auto dt = gputest::to_device(targets);
  cuda::CrossEntropyArgs a;
  a.dtype = DType::F32;
  a.logits = dl.data();
  a.rows = rows;
  a.vocab = vocab;
  a.ld = vocab;
  a.targets = dt.as<int64_t>();
  a.losses = dloss.buf.as<float>();
  a.write_dlogits = false;
  cuda::cross_entropy_fused(a);
  EXPECT_EQ(dl.read(), logits);
  const auto loss = dloss.read();
  EXPECT_TRUE(std::isnan(loss[1]));
  EXPECT_NEAR(loss[0], -std::log(softmax_row(&logits[0], vocab)[4]), 1e-5);
}

}  // namespace
}  // namespace anvil
