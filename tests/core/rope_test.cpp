// rope (rotary position embedding). Finite-difference gradchecks on odd shapes, forwards against
// double-precision textbook formulas computed here, strided views against contiguous copies, bf16
// against f32, and argument errors naming the op.
//
// gradcheck-covers: rope
#include <gtest/gtest.h>

#include <cmath>
#include <complex>

#include "tests/support/gradcheck.h"
#include "tests/support/op_checks.h"

namespace anvil {
namespace {

using test::gradcheck;
using test::norm_rel_error;
using test::random_param;
using test::random_tensor;
using test::as_doubles;
using test::expect_close;
using test::expect_op_error;
using test::kBf16NormTolerance;

// Each pair (x[i], x[i + D/2]) as the complex number x[i] + j x[i + D/2], multiplied by e^(j angle).
std::vector<double> reference_rope(const Tensor& x, int64_t pos_offset, double theta) {
  const int64_t T = x.size(2), D = x.size(3), half = D / 2, rows = x.size(0) * x.size(1);
  auto xv = as_doubles(x);
  std::vector<double> out(xv.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t i = 0; i < half; ++i) {
        const double angle = double(pos_offset + t) * std::pow(theta, -2.0 * double(i) / double(D));
        const size_t base = size_t((r * T + t) * D);
        const std::complex<double> z(xv[base + size_t(i)], xv[base + size_t(i + half)]);
        const std::complex<double> rotated = z * std::polar(1.0, angle);
        out[base + size_t(i)] = rotated.real();
        out[base + size_t(i + half)] = rotated.imag();
      }
  return out;
}

TEST(Rope, MatchesComplexRotation) {
  Generator gen(21);
  Tensor x = random_tensor({2, 3, 5, 6}, gen);
  // f32 angles of positions up to ~12 carry ~1e-6 absolute error.
  expect_close(ops::rope(x, 7, 10000.0f), reference_rope(x, 7, 10000.0), 1e-5);
  expect_close(ops::rope(x, 0, 500000.0f), reference_rope(x, 0, 500000.0), 1e-5);
  // Position 0 is the identity.
  Tensor first = x.slice(2, 0, 1);
  EXPECT_EQ(ops::rope(first, 0, 10000.0f).to_f32_vector(), first.to_f32_vector());
}

TEST(Rope, OffsetMatchesSliceOfLongerSequence) {
  // What a KV cache relies on: rotating steps 3..5 with pos_offset 3 equals those steps of the full rotation.
  Generator gen(22);
  Tensor x = random_tensor({1, 2, 6, 8}, gen);
  Tensor full = ops::rope(x, 0, 10000.0f);
  EXPECT_EQ(ops::rope(x.slice(2, 3, 6), 3, 10000.0f).to_f32_vector(), full.slice(2, 3, 6).to_f32_vector());
}

TEST(Rope, GradientsViewsBf16AndErrors) {
  Generator gen(23);
  auto x = random_param({2, 3, 5, 6}, gen);
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return ops::rope(v[0], 4, 10000.0f); }, {x}));
  // (B, T, H, D) transposed to (B, H, T, D), as attention code produces it.
  Tensor xt = random_tensor({2, 5, 3, 6}, gen).transpose(1, 2);
  EXPECT_EQ(ops::rope(xt, 2, 10000.0f).to_f32_vector(), ops::rope(xt.contiguous(), 2, 10000.0f).to_f32_vector());
  Tensor xb = x.detach().to(DType::BF16);
  Tensor yb = ops::rope(xb, 4, 10000.0f);
  EXPECT_EQ(yb.dtype(), DType::BF16);
  EXPECT_LT(norm_rel_error(yb, ops::rope(x.detach(), 4, 10000.0f)), kBf16NormTolerance);

  expect_op_error([] { ops::rope(Tensor::zeros({1, 2, 3, 5}), 0, 10000.0f); }, {"[rope]"});
  expect_op_error([] { ops::rope(Tensor::zeros({1, 2, 3, 5}), 0, 10000.0f); }, {"[1, 2, 3, 5]"});
  expect_op_error([] { ops::rope(Tensor::zeros({2, 3, 4}), 0, 10000.0f); }, {"[rope]"});
  expect_op_error([] { ops::rope(Tensor::zeros({1, 1, 2, 4}), -1, 10000.0f); }, {"[rope]"});
}

}  // namespace
}  // namespace anvil
