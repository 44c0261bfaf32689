// layer_norm and rms_norm. Finite-difference gradchecks on odd shapes, forwards against
// double-precision textbook formulas computed here, strided views against contiguous copies, bf16
// against f32, and argument errors naming the op.
//
// gradcheck-covers: norm
#include <gtest/gtest.h>

#include <cmath>

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

std::vector<double> reference_layer_norm(const Tensor& x, const Tensor& w, const Tensor& b, double eps) {
  const int64_t C = x.size(-1), N = x.numel() / C;
  auto xv = as_doubles(x), wv = as_doubles(w), bv = as_doubles(b);
  std::vector<double> out(xv.size());
  for (int64_t n = 0; n < N; ++n) {
    double mean = 0, var = 0;
    for (int64_t c = 0; c < C; ++c) mean += xv[size_t(n * C + c)] / double(C);
    for (int64_t c = 0; c < C; ++c) var += std::pow(xv[size_t(n * C + c)] - mean, 2) / double(C);
    for (int64_t c = 0; c < C; ++c)
      out[size_t(n * C + c)] = (xv[size_t(n * C + c)] - mean) / std::sqrt(var + eps) * wv[size_t(c)] + bv[size_t(c)];
  }
  return out;
}

std::vector<double> reference_rms_norm(const Tensor& x, const Tensor& w, double eps) {
  const int64_t C = x.size(-1), N = x.numel() / C;
  auto xv = as_doubles(x), wv = as_doubles(w);
  std::vector<double> out(xv.size());
  for (int64_t n = 0; n < N; ++n) {
    double ms = 0;
    for (int64_t c = 0; c < C; ++c) ms += xv[size_t(n * C + c)] * xv[size_t(n * C + c)] / double(C);
    for (int64_t c = 0; c < C; ++c) out[size_t(n * C + c)] = xv[size_t(n * C + c)] / std::sqrt(ms + eps) * wv[size_t(c)];
  }
  return out;
}

TEST(Norm, LayerNormMatchesTextbookFormula) {
  Generator gen(11);
  // An offset mean checks the variance does not cancel.
  Tensor x = random_tensor({3, 5, 7}, gen, 2.0f, 4.0f), w = random_tensor({7}, gen), b = random_tensor({7}, gen);
  expect_close(ops::layer_norm(x, w, b, 1e-5f), reference_layer_norm(x, w, b, 1e-5), 1e-4);
  // No affine part equals weight 1, bias 0.
  expect_close(ops::layer_norm(x, Tensor(), Tensor(), 1e-5f),
               reference_layer_norm(x, Tensor::ones({7}), Tensor::zeros({7}), 1e-5), 1e-4);
}

TEST(Norm, RmsNormMatchesTextbookFormula) {
  Generator gen(12);
  Tensor x = random_tensor({4, 9}, gen, -2.0f, 2.0f), w = random_tensor({9}, gen);
  expect_close(ops::rms_norm(x, w, 1e-6f), reference_rms_norm(x, w, 1e-6), 1e-5);
  expect_close(ops::rms_norm(x, Tensor(), 0.5f), reference_rms_norm(x, Tensor::ones({9}), 0.5), 1e-5);
}

TEST(Norm, Gradients) {
  Generator gen(13);
  auto x = random_param({3, 5, 7}, gen), w = random_param({7}, gen, 0.5f, 1.5f), b = random_param({7}, gen);
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return ops::layer_norm(v[0], v[1], v[2], 1e-5f); },
                        {x, w, b}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return ops::layer_norm(v[0], Tensor(), Tensor(), 1e-5f); },
                        {x}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return ops::rms_norm(v[0], v[1], 1e-6f); }, {x, w}));
  // Only the weight requires grad: x's gradient is skipped, the weight's is still right.
  Tensor x_fixed = random_tensor({6, 7}, gen);
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return ops::rms_norm(v[0], v[1], 1e-6f); }, {x_fixed, w}));
}

TEST(Norm, ViewsAndBf16) {
  Generator gen(14);
  Tensor x = random_tensor({7, 6}, gen), w = random_tensor({7}, gen), b = random_tensor({7}, gen);
  Tensor xt = x.transpose(0, 1);  // (6, 7), strided
  EXPECT_EQ(ops::layer_norm(xt, w, b, 1e-5f).to_f32_vector(),
            ops::layer_norm(xt.contiguous(), w, b, 1e-5f).to_f32_vector());
  Tensor xs = random_tensor({8, 7}, gen).slice(0, 1, 8, 2);  // (4, 7), every other row
  EXPECT_EQ(ops::rms_norm(xs, w, 1e-6f).to_f32_vector(), ops::rms_norm(xs.contiguous(), w, 1e-6f).to_f32_vector());

  Tensor xb = xt.to(DType::BF16), wb = w.to(DType::BF16), bb = b.to(DType::BF16);
  Tensor yb = ops::layer_norm(xb, wb, bb, 1e-5f);
  EXPECT_EQ(yb.dtype(), DType::BF16);
  EXPECT_LT(norm_rel_error(yb, ops::layer_norm(xt, w, b, 1e-5f)), kBf16NormTolerance);
  Tensor rb = ops::rms_norm(xb, wb, 1e-6f);
  EXPECT_EQ(rb.dtype(), DType::BF16);
  EXPECT_LT(norm_rel_error(rb, ops::rms_norm(xt, w, 1e-6f)), kBf16NormTolerance);
  // bf16 parameters get bf16 gradients.
  Tensor wp = wb.detach().set_requires_grad(true);
  ops::sum(ops::layer_norm(xb, wp, bb, 1e-5f)).backward();
  ASSERT_TRUE(wp.grad().defined());
  EXPECT_EQ(wp.grad().dtype(), DType::BF16);
}

TEST(Norm, BadArgumentsNameTheOp) {
  Tensor x = Tensor::zeros({2, 5}), w4 = Tensor::ones({4});
  expect_op_error([&] { ops::layer_norm(x, w4, Tensor(), 1e-5f); }, {"[layer_norm]"});
  expect_op_error([&] { ops::layer_norm(x, Tensor::ones({5}), w4, 1e-5f); }, {"[layer_norm]"});
  expect_op_error([&] { ops::rms_norm(x, w4, 1e-5f); }, {"[rms_norm]"});
  expect_op_error([&] { ops::rms_norm(x, w4, 1e-5f); }, {"[2, 5]"});
  expect_op_error([&] { ops::rms_norm(Tensor::from_ints({1, 2}, {2}), Tensor(), 1e-5f); }, {"[rms_norm]"});
}

}  // namespace
}  // namespace anvil
