// dropout. For each op: a finite-difference gradcheck on odd shapes, forward values against a
// double-precision formula written out here, bf16 inputs against the f32 result on the same
// (bf16-rounded) values, strided inputs against their contiguous copies, and the error cases.
//
// gradcheck-covers: dropout
#include <gtest/gtest.h>

#include <cmath>

#include "tests/support/gradcheck.h"
#include "tests/support/op_checks.h"

namespace anvil {
namespace {

using test::gradcheck;
using test::max_rel_error;
using test::random_param;
using test::random_tensor;
using test::expect_op_error;
using test::kBf16RelTol;

TEST(Dropout, MaskFollowsPhiloxAndAdvancesGenerator) {
  Generator gen(51);
  Tensor x = random_tensor({3, 7}, gen, 0.5f, 1.5f);  // never 0, so zeros mean dropped
  const float p = 0.3f;
  Generator dg(1234);
  dg.offset = 17;
  auto y = ops::dropout(x, p, dg).to_f32_vector();
  EXPECT_EQ(dg.offset, 17u + 21u);
  auto xv = x.to_f32_vector();
  for (size_t i = 0; i < xv.size(); ++i) {
    const bool dropped = Philox4x32::uniform(1234, 17 + i) < p;
    if (dropped) {
      EXPECT_EQ(y[i], 0.0f) << i;
    } else {
      EXPECT_NEAR(y[i], double(xv[i]) / (1.0 - p), 1e-6) << i;
    }
  }
  // The fraction dropped over many elements is close to p.
  Generator big_gen(5);
  auto ones = ops::dropout(Tensor::ones({100000}), 0.25f, big_gen).to_f32_vector();
  int64_t zeros = 0;
  for (float v : ones) zeros += v == 0.0f;
  EXPECT_NEAR(double(zeros) / 100000.0, 0.25, 0.01);
}

TEST(Dropout, GradcheckWithFixedStream) {
  Generator gen(52);
  for (Shape shape : {Shape{3, 7}, Shape{2, 5, 9}}) {
    auto x = random_param(shape, gen);
    // Each evaluation draws from a fresh generator with the same seed: the same mask every time.
    EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) {
      Generator g(99);
      return ops::dropout(v[0], 0.4f, g);
    }, {x}));
  }
}

TEST(Dropout, ZeroProbabilityIsIdentityWithoutCopy) {
  Generator gen(53);
  Tensor x = random_tensor({4, 3}, gen);
  Generator dg(7);
  Tensor y = ops::dropout(x, 0.0f, dg);
  EXPECT_EQ(y.impl(), x.impl());
  EXPECT_EQ(dg.offset, 0u);
}

TEST(Dropout, Bf16AndStridedInputs) {
  Generator gen(54);
  Tensor xb = random_tensor({5, 9}, gen, -1.0f, 1.0f, DType::BF16);
  Generator g1(3), g2(3);
  Tensor yb = ops::dropout(xb, 0.5f, g1);
  EXPECT_EQ(yb.dtype(), DType::BF16);
  EXPECT_LE(test::max_rel_error(yb, ops::dropout(xb.to(DType::F32), 0.5f, g2), 1e-2), kBf16RelTol);
  // Element i of the mask is element i in row-major order of the logical shape, whatever the strides.
  Tensor xt = random_tensor({9, 5}, gen).transpose(0, 1);
  Generator g3(8), g4(8);
  EXPECT_EQ(ops::dropout(xt, 0.5f, g3).to_f32_vector(), ops::dropout(xt.contiguous(), 0.5f, g4).to_f32_vector());
}

TEST(Dropout, RejectsBadProbability) {
  Generator g(1);
  Tensor x = Tensor::ones({2, 2});
  expect_op_error([&] { ops::dropout(x, 1.0f, g); }, {"[dropout]", "[0, 1)", "[2, 2]"});
  expect_op_error([&] { ops::dropout(x, -0.1f, g); }, {"[dropout]"});
  expect_op_error([&] { ops::dropout(Tensor::arange(3), 0.5f, g); }, {"[dropout]"});
}

}  // namespace
}  // namespace anvil
