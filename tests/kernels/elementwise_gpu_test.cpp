// CUDA elementwise kernels against the CPU kernels (kernels/cpu) and double-precision formulas,
// on fresh Philox inputs of odd sizes, in f32 and bf16 (f16 for casts).
#include <cmath>

#include "core/base/error.h"
#include "kernels/cpu/convert.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cuda/elementwise.h"
#include "tests/kernels/gpu_test_util.h"

namespace anvil {
namespace {

namespace cuda = kernels::cuda;
namespace cpu = kernels::cpu;
using gputest::all_close;
using gputest::DeviceTensor;
using gputest::random_normal;
using gputest::random_uniform;
using gputest::round_to;
using gputest::tolerance_for;

const DType kTypes[] = {DType::F32, DType::BF16};

double gelu_ref(double x) { return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x))); }
double silu_ref(double x) { return x / (1.0 + std::exp(-x)); }
// Central difference: an independent check of the analytic derivatives in the kernels.
template <typename F>
double derivative(F f, double x) {
  const double h = 1e-5;
  return (f(x + h) - f(x - h)) / (2 * h);
}

TEST(ElementwiseGpu, BinaryBroadcastMatchesCpu) {
  ANVIL_SKIP_WITHOUT_GPU();
  const int64_t shape[3] = {3, 5, 7};
  const int64_t a_strides[3] = {35, 7, 1};
  const int64_t a_transposed[3] = {1, 3, 15};  // a read as a permuted (non-contiguous) view
  const int64_t b_strides[3] = {0, 1, 0};      // b (5) broadcast over dims 0 and 2
  for (DType t : kTypes) {
    for (const int64_t* as : {a_strides, a_transposed}) {
      for (auto op : {cuda::BinaryOp::Add, cuda::BinaryOp::Sub, cuda::BinaryOp::Mul, cuda::BinaryOp::Div}) {
        auto a = round_to(random_normal(105, 11), t);
        auto b = round_to(random_normal(5, 12), t);
        for (float& x : b) x += (x >= 0 ? 0.5f : -0.5f);  // keep divisors away from 0
        b = round_to(b, t);
        std::vector<float> want(105);
        cpu::binary_f32(op, a.data(), as, b.data(), b_strides, want.data(), shape, 3);
        DeviceTensor da(a, t), db(b, t), dout(105, t);
        cuda::binary(op, t, da.data(), as, db.data(), b_strides, dout.data(), shape, 3, nullptr);
        EXPECT_TRUE(all_close(dout.read(), round_to(want, t), tolerance_for(t), "binary"));
      }
    }
  }
}

TEST(ElementwiseGpu, ScalarOpsMatchCpu) {
  ANVIL_SKIP_WITHOUT_GPU();
  const int64_t n = 1001;
  for (DType t : kTypes) {
    auto a = round_to(random_uniform(n, 21, 0.5f, 2.0f), t);
    std::vector<float> add(n), mul(n);
    cpu::add_scalar_f32(a.data(), 0.75f, add.data(), n);
    cpu::mul_scalar_f32(a.data(), -1.5f, mul.data(), n);
    DeviceTensor da(a, t), out(n, t);
    cuda::scalar(cuda::ScalarOp::Add, t, da.data(), 0.75f, out.data(), n, nullptr);
    EXPECT_TRUE(all_close(out.read(), add, tolerance_for(t), "add_scalar"));
    cuda::scalar(cuda::ScalarOp::Mul, t, da.data(), -1.5f, out.data(), n, nullptr);
    EXPECT_TRUE(all_close(out.read(), mul, tolerance_for(t), "mul_scalar"));
    std::vector<double> rsub(n), rdiv(n), pw(n);
    for (int64_t i = 0; i < n; ++i) {
      rsub[i] = 3.0 - a[i];
      rdiv[i] = 3.0 / a[i];
      pw[i] = std::pow(double(a[i]), 1.7);
    }
    cuda::scalar(cuda::ScalarOp::RSub, t, da.data(), 3.0f, out.data(), n, nullptr);
    EXPECT_TRUE(all_close(out.read(), rsub, tolerance_for(t), "rsub_scalar"));
    cuda::scalar(cuda::ScalarOp::RDiv, t, da.data(), 3.0f, out.data(), n, nullptr);
    EXPECT_TRUE(all_close(out.read(), rdiv, tolerance_for(t), "rdiv_scalar"));
    cuda::scalar(cuda::ScalarOp::Pow, t, da.data(), 1.7f, out.data(), n, nullptr);
    EXPECT_TRUE(all_close(out.read(), pw, tolerance_for(t), "pow_scalar"));
  }
}

TEST(ElementwiseGpu, GeluAndSiluForwardBackward) {
  ANVIL_SKIP_WITHOUT_GPU();
  for (int64_t n : {1, 257, 4099}) {
    for (DType t : kTypes) {
      auto x = round_to(random_normal(n, 31 + n, 2.0f), t);
      auto dy = round_to(random_normal(n, 32 + n), t);
      std::vector<double> gelu(n), dgelu(n), silu(n), dsilu(n);
      for (int64_t i = 0; i < n; ++i) {
        gelu[i] = gelu_ref(x[i]);
        dgelu[i] = dy[i] * derivative(gelu_ref, x[i]);
        silu[i] = silu_ref(x[i]);
        dsilu[i] = dy[i] * derivative(silu_ref, x[i]);
      }
      DeviceTensor dx(x, t), ddy(dy, t), out(n, t);
      const auto tol = t == DType::F32 ? gputest::Tolerance{1e-4, 1e-5} : tolerance_for(t);
      cuda::gelu_forward(t, dx.data(), out.data(), n, nullptr);
      EXPECT_TRUE(all_close(out.read(), gelu, tol, "gelu"));
      cuda::gelu_backward(t, dx.data(), ddy.data(), out.data(), n, nullptr);
      EXPECT_TRUE(all_close(out.read(), dgelu, tol, "gelu_backward"));
      cuda::silu_forward(t, dx.data(), out.data(), n, nullptr);
      EXPECT_TRUE(all_close(out.read(), silu, tol, "silu"));
      cuda::silu_backward(t, dx.data(), ddy.data(), out.data(), n, nullptr);
      EXPECT_TRUE(all_close(out.read(), dsilu, tol, "silu_backward"));
    }
  }
}

TEST(ElementwiseGpu, SwigluOnHalvesOfOneProjection) {
  ANVIL_SKIP_WITHOUT_GPU();
  const int64_t rows = 7, cols = 45;
  for (DType t : kTypes) {
    auto fused = round_to(random_normal(rows * 2 * cols, 41), t);  // (rows, [gate | up])
    auto dout = round_to(random_normal(rows * cols, 42), t);
    std::vector<double> out(rows * cols), dfused(rows * 2 * cols);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c) {
        const double g = fused[r * 2 * cols + c], u = fused[r * 2 * cols + cols + c], d = dout[r * cols + c];
        out[r * cols + c] = silu_ref(g) * u;
        dfused[r * 2 * cols + c] = d * u * derivative(silu_ref, g);
        dfused[r * 2 * cols + cols + c] = d * silu_ref(g);
      }
    }
    DeviceTensor dfz(fused, t), dd(dout, t), dy(rows * cols, t), dgrad(rows * 2 * cols, t);
    const int64_t half_bytes = cols * dtype_size(t);
    auto* base = static_cast<char*>(dfz.data());
    auto* grad = static_cast<char*>(dgrad.data());
    cuda::swiglu_forward(t, base, base + half_bytes, 2 * cols, dy.data(), rows, cols, nullptr);
    const auto tol = t == DType::F32 ? gputest::Tolerance{1e-4, 1e-5} : tolerance_for(t);
    EXPECT_TRUE(all_close(dy.read(), out, tol, "swiglu"));
    cuda::swiglu_backward(t, base, base + half_bytes, 2 * cols, dd.data(), grad, grad + half_bytes, rows, cols,
                          nullptr);
    EXPECT_TRUE(all_close(dgrad.read(), dfused, tol, "swiglu_backward"));
  }
}

TEST(ElementwiseGpu, CastsRoundLikeTheCpu) {
  ANVIL_SKIP_WITHOUT_GPU();
  const int64_t n = 3001;
  auto x = random_normal(n, 51, 100.0f);
  x[0] = 1e-7f;   // f16 subnormal
  x[1] = 7e4f;    // f16 overflow
  for (DType t : {DType::BF16, DType::F16}) {
    std::vector<uint16_t> want(n);
    cpu::convert(x.data(), DType::F32, want.data(), t, n);
    DeviceTensor src(x, DType::F32);
    gputest::DeviceBuffer dst(n * 2);
    cuda::cast(src.data(), DType::F32, dst.get(), t, n, nullptr);
    auto got = gputest::to_host<uint16_t>(dst, n);
    EXPECT_EQ(got, want) << "f32 -> " << dtype_name(t) << " must round bit-identically to the CPU";
    // back to f32 is exact
    DeviceTensor back(n, DType::F32);
    cuda::cast(dst.get(), t, back.data(), DType::F32, n, nullptr);
    std::vector<float> want_back(n);
    cpu::convert(want.data(), t, want_back.data(), DType::F32, n);
    auto got_back = back.read();
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(f32_bits(got_back[i]), f32_bits(want_back[i])) << "element " << i;
  }
}

TEST(ElementwiseGpu, FillAndAxpy) {
  ANVIL_SKIP_WITHOUT_GPU();
  const int64_t n = 777;
  for (DType t : kTypes) {
    DeviceTensor d(n, t);
    cuda::fill(t, d.data(), 2.5f, n, nullptr);
    for (float v : d.read()) ASSERT_EQ(v, 2.5f);
    auto dst = round_to(random_normal(n, 61), t);
    auto src = round_to(random_normal(n, 62), t);
    auto want = dst;
    cpu::axpy_f32(want.data(), src.data(), -0.3f, n);
    DeviceTensor ddst(dst, t), dsrc(src, t);
    cuda::axpy(t, ddst.data(), dsrc.data(), -0.3f, n, nullptr);
    EXPECT_TRUE(all_close(ddst.read(), round_to(want, t), tolerance_for(t), "axpy"));
  }
}

TEST(ElementwiseGpu, RejectsIntegerDtype) {
  ANVIL_SKIP_WITHOUT_GPU();
  gputest::DeviceBuffer d(64);
  EXPECT_THROW(cuda::fill(DType::I32, d.get(), 1.0f, 4, nullptr), OpError);
}

}  // namespace
}  // namespace anvil
