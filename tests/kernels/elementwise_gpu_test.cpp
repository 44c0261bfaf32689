// CUDA elementwise kernels against the CPU kernels (kernels/cpu) and double-precision formulas,
// on fresh Philox inputs of odd sizes, in f32 and bf16.
#include <cmath>

#include "core/base/error.h"
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
