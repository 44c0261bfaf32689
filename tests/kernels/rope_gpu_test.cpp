// CUDA RoPE against a double-precision rotate-half reference: full and partial rotary dims,
// explicit positions, strided (fused-projection) views, in place; the backward inverts the forward.
#include <cmath>

#include "kernels/cuda/rope.h"
#include "tests/kernels/gpu_test_util.h"

namespace anvil {
namespace {

namespace cuda = kernels::cuda;
using gputest::all_close;
using gputest::DeviceTensor;
using gputest::random_normal;
using gputest::round_to;

// x, y contiguous (B, T, H, D).
std::vector<double> rope_ref(const std::vector<float>& x, int64_t B, int64_t T, int64_t H, int64_t D, int64_t rot,
                             double theta, const std::vector<int64_t>& pos, double sign) {
  std::vector<double> y(x.begin(), x.end());
  const int64_t half = rot / 2;
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t t = 0; t < T; ++t) {
      const double p = pos.empty() ? double(t) : double(pos[b * T + t]);
      for (int64_t h = 0; h < H; ++h) {
        const int64_t base = ((b * T + t) * H + h) * D;
        for (int64_t i = 0; i < half; ++i) {
          const double a = sign * p * std::pow(theta, -2.0 * i / rot);
          const double x0 = x[base + i], x1 = x[base + i + half];
          y[base + i] = x0 * std::cos(a) - x1 * std::sin(a);
          y[base + i + half] = x1 * std::cos(a) + x0 * std::sin(a);
        }
      }
    }
  }
  return y;
}

cuda::RopeArgs contiguous_args(DType t, const void* x, void* y, int64_t B, int64_t T, int64_t H, int64_t D) {
  cuda::RopeArgs a;
  a.dtype = t;
  a.x = x;
  a.y = y;
  a.batch = B;
  a.seq_len = T;
  a.heads = H;
  a.head_dim = D;
  const int64_t strides[3] = {T * H * D, H * D, D};
  for (int i = 0; i < 3; ++i) a.x_strides[i] = a.y_strides[i] = strides[i];
  return a;
}

TEST(RopeGpu, ForwardMatchesReference) {
  ANVIL_SKIP_WITHOUT_GPU();
  const int64_t B = 2, T = 19, H = 3;
  for (DType t : {DType::F32, DType::BF16}) {
    for (int64_t D : {64, 34}) {
      for (int64_t rot : {D, D / 2 + (D / 2) % 2}) {
        auto x = round_to(random_normal(B * T * H * D, 1 + D + rot), t);
        DeviceTensor dx(x, t), dy(x.size(), t);
        auto a = contiguous_args(t, dx.data(), dy.data(), B, T, H, D);
        a.rotary_dim = rot;
        a.theta = 500.0f;
        cuda::rope_forward(a);
        const auto tol = t == DType::F32 ? gputest::Tolerance{1e-5, 1e-5} : gputest::tolerance_for(t);
        EXPECT_TRUE(all_close(dy.read(), rope_ref(x, B, T, H, D, rot, 500.0, {}, 1.0), tol,
                              "rope D=" + std::to_string(D) + " rot=" + std::to_string(rot)));
      }
    }
  }
}

TEST(RopeGpu, ExplicitPositionsInPlaceAndBackwardInverts) {
  ANVIL_SKIP_WITHOUT_GPU();
  const int64_t B = 2, T = 7, H = 2, D = 16;
  auto x = random_normal(B * T * H * D, 21);
  std::vector<int64_t> pos(B * T);
  for (int64_t i = 0; i < B * T; ++i) pos[i] = int64_t(Philox4x32::word(22, i) % 300);
  DeviceTensor dx(x, DType::F32);
  auto dpos = gputest::to_device(pos);
  auto a = contiguous_args(DType::F32, dx.data(), dx.data(), B, T, H, D);  // in place
  a.positions = dpos.as<int64_t>();
  cuda::rope_forward(a);
  EXPECT_TRUE(all_close(dx.read(), rope_ref(x, B, T, H, D, D, 10000.0, pos, 1.0), {1e-5, 1e-5}, "rope positions"));
  cuda::rope_backward(a);  // the transpose rotation undoes the forward
  EXPECT_TRUE(all_close(dx.read(), x, {1e-5, 1e-5}, "rope backward(forward(x))"));
}

TEST(RopeGpu, StridedViewWithOffsetAndPassThrough) {
  ANVIL_SKIP_WITHOUT_GPU();
  const int64_t B = 1, T = 9, H = 2, D = 8, width = 3 * H * D;  // q slice of (B, T, [q | k | v])
  auto fused = random_normal(B * T * width, 31);
  std::vector<float> q(B * T * H * D);
  for (int64_t bt = 0; bt < B * T; ++bt)
    for (int64_t e = 0; e < H * D; ++e) q[bt * H * D + e] = fused[bt * width + e];
  DeviceTensor dfused(fused, DType::F32), out(q.size(), DType::F32);
  auto a = contiguous_args(DType::F32, dfused.data(), out.data(), B, T, H, D);
  a.x_strides[0] = T * width;
  a.x_strides[1] = width;
  a.rotary_dim = 4;  // dims 4..7 are copied through
  a.position_offset = 100;
  cuda::rope_forward(a);
  std::vector<int64_t> pos(T);
  for (int64_t t = 0; t < T; ++t) pos[t] = 100 + t;
  EXPECT_TRUE(all_close(out.read(), rope_ref(q, B, T, H, D, 4, 10000.0, pos, 1.0), {1e-5, 1e-5}, "strided rope"));
}

}  // namespace
}  // namespace anvil
