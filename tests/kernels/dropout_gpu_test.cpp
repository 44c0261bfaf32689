// CUDA dropout drops exactly the elements the CPU rule drops (Philox uniform(seed, offset + i) < p),
// scales the kept ones by 1 / (1 - p), and its backward regenerates the same mask; offsets that are
// not multiples of 4 exercise the unshared Philox path.
#include "core/base/error.h"
#include "kernels/cuda/dropout.h"
#include "tests/kernels/gpu_test_util.h"

namespace anvil {
namespace {

namespace cuda = kernels::cuda;
using gputest::DeviceTensor;
using gputest::random_normal;
using gputest::round_to;

TEST(DropoutGpu, MaskMatchesPhiloxRuleAndBackwardReusesIt) {
  ANVIL_SKIP_WITHOUT_GPU();
  const uint64_t seed = 1234;
  for (DType t : {DType::F32, DType::BF16}) {
    for (uint64_t offset : {uint64_t(0), uint64_t(6), uint64_t(4096 + 3)}) {
      for (int64_t n : {1, 1003}) {
        const float p = 0.3f;
        auto x = round_to(random_normal(n, 7 + n), t);
        DeviceTensor dx(x, t), dy(n, t), dgrad(n, t);
        gputest::DeviceBuffer mask(n);
        cuda::dropout_forward(t, dx.data(), dy.data(), mask.as<uint8_t>(), n, p, seed, offset, nullptr);
        cuda::dropout_backward(t, dx.data(), dgrad.data(), n, p, seed, offset, nullptr);  // dy := x
        const auto y = dy.read(), g = dgrad.read();
        const auto m = gputest::to_host<uint8_t>(mask, n);
        int64_t dropped = 0;
        for (int64_t i = 0; i < n; ++i) {
          const bool keep = !(Philox4x32::uniform(seed, offset + i) < p);
          const float want = keep ? round_to(x[i] * (1.0f / (1.0f - p)), t) : 0.0f;
          ASSERT_EQ(m[i], keep ? 1 : 0) << "mask at " << i << " offset " << offset;
          ASSERT_EQ(y[i], want) << "y at " << i;
          ASSERT_EQ(g[i], want) << "backward at " << i;
          dropped += !keep;
        }
        if (n > 1000) {
          EXPECT_NEAR(double(dropped) / n, p, 0.05);
        }
      }
    }
  }
}

TEST(DropoutGpu, RejectsProbabilityOne) {
  ANVIL_SKIP_WITHOUT_GPU();
  DeviceTensor d(4, DType::F32);
  EXPECT_THROW(cuda::dropout_forward(DType::F32, d.data(), d.data(), nullptr, 4, 1.0f, 1, 0, nullptr), OpError);
}

}  // namespace
}  // namespace anvil
