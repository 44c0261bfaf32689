// CUDA unary math and activations, forward and backward, against the CPU reference kernels on
// random inputs of odd sizes. f32 bounds: 1e-5 relative (the device's expf/tanhf).
// Skips without a GPU (label gpu).
#include "kernels/cpu/unary.h"
#include "kernels/cuda/unary.h"
#include "tests/kernels/gpu_test_util.h"

namespace anvil {
namespace {

namespace cuda = kernels::cuda;
using gputest::all_close;
using gputest::DeviceTensor;
using gputest::random_normal;
using gputest::random_uniform;

constexpr gputest::Tolerance kF32 = {1e-5, 1e-5};

TEST(UnaryGpu, UnaryForwardAndBackwardMatchTheCpu) {
  ANVIL_SKIP_WITHOUT_GPU();
  using kernels::cpu::UnaryOp;
  const int64_t n = 4099;
  for (UnaryOp op : {UnaryOp::Exp, UnaryOp::Log, UnaryOp::Tanh, UnaryOp::Sqrt, UnaryOp::Gelu, UnaryOp::Silu,
                     UnaryOp::Relu}) {
    SCOPED_TRACE(int(op));
    const bool positive = op == UnaryOp::Log || op == UnaryOp::Sqrt;
    const auto x = positive ? random_uniform(n, 5, 0.05f, 4.0f) : random_uniform(n, 5, -4.0f, 4.0f);
    const auto gy = random_normal(n, 6);
    std::vector<float> y(static_cast<size_t>(n)), gx(static_cast<size_t>(n));
    kernels::cpu::unary_forward_f32(op, x.data(), y.data(), n);
    const auto& saved = kernels::cpu::unary_saves_output(op) ? y : x;
    kernels::cpu::unary_backward_f32(op, saved.data(), gy.data(), gx.data(), n);
    DeviceTensor dx(x, DType::F32), dy(n, DType::F32), dsaved(saved, DType::F32), dgy(gy, DType::F32),
        dgx(n, DType::F32);
    cuda::unary_forward_f32(op, static_cast<const float*>(dx.data()), static_cast<float*>(dy.data()), n, nullptr);
    cuda::unary_backward_f32(op, static_cast<const float*>(dsaved.data()), static_cast<const float*>(dgy.data()),
                             static_cast<float*>(dgx.data()), n, nullptr);
    EXPECT_TRUE(all_close(dy.read(), y, kF32, "forward"));
    EXPECT_TRUE(all_close(dgx.read(), gx, kF32, "backward"));
  }
}

}  // namespace
}  // namespace anvil
