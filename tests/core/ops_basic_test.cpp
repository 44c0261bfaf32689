// Gradient checks and view invariance for the elementwise, reduction and matmul families.
//
// gradcheck-covers: elementwise reduce matmul
#include <gtest/gtest.h>

#include "tests/support/gradcheck.h"

namespace anvil {
namespace {

using test::gradcheck;
using test::random_param;
using test::random_tensor;

TEST(Elementwise, BroadcastingGradients) {
  Generator gen(3);
  auto x = random_param({3, 1, 5}, gen), y = random_param({4, 5}, gen);
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return ops::add(v[0], v[1]); }, {x, y}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return ops::sub(v[0], v[1]); }, {x, y}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return ops::mul(v[0], v[1]); }, {x, y}));
  auto d = random_param({4, 5}, gen, 0.5f, 2.0f);
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return ops::div(v[0], v[1]); }, {x, d}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return ops::add_scalar(ops::mul_scalar(v[0], 1.7f), 2.0f); }, {x}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return ops::neg(v[0]); }, {x}));
}

TEST(Reduce, SumMeanMaxGradients) {
  Generator gen(4);
  auto x = random_param({3, 4, 5}, gen);
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return ops::sum(v[0], {0, 2}); }, {x}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return ops::sum(v[0], {1}, true); }, {x}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return ops::mean(v[0], {-1}); }, {x}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return ops::mean(v[0]); }, {x}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return ops::max(v[0], 1); }, {x}));
  Tensor s = ops::sum(Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3}), {1});
  EXPECT_EQ(s.to_f32_vector(), (std::vector<float>{6, 15}));
  Tensor m = ops::max(Tensor::from_vector({1, 9, 3, 4, 5, 6}, {2, 3}), 0);
  EXPECT_EQ(m.to_f32_vector(), (std::vector<float>{4, 9, 6}));
}

TEST(Matmul, MatchesNaiveProductAndGradients) {
  Generator gen(5);
  Tensor a = random_tensor({7, 13}, gen), b = random_tensor({13, 9}, gen);
  Tensor c = ops::matmul(a, b);
  auto va = a.to_f32_vector(), vb = b.to_f32_vector(), vc = c.to_f32_vector();
  for (int i = 0; i < 7; ++i)
    for (int j = 0; j < 9; ++j) {
      double s = 0;
      for (int k = 0; k < 13; ++k) s += double(va[size_t(i * 13 + k)]) * vb[size_t(k * 9 + j)];
      EXPECT_NEAR(vc[size_t(i * 9 + j)], s, 1e-5);
    }
  auto x = random_param({2, 5, 6}, gen), y = random_param({6, 3}, gen), z = random_param({2, 6, 3}, gen);
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return ops::matmul(v[0], v[1]); }, {x, y}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return ops::matmul(v[0], v[1]); }, {x, z}));
  auto w = random_param({4, 6}, gen), bias = random_param({4}, gen);
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return ops::linear(v[0], v[1], v[2]); }, {x, w, bias}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return ops::linear(v[0], v[1]); }, {x, w}));
}

TEST(Matmul, LargeBlockedProductMatchesNaive) {
  Generator gen(6);
  // Sizes that cross the packing panels (256) and leave ragged row blocks.
  Tensor a = random_tensor({37, 300}, gen), b = random_tensor({300, 270}, gen);
  Tensor c = ops::matmul(a, b);
  auto va = a.to_f32_vector(), vb = b.to_f32_vector(), vc = c.to_f32_vector();
  for (int i = 0; i < 37; i += 5)
    for (int j = 0; j < 270; j += 7) {
      double s = 0;
      for (int k = 0; k < 300; ++k) s += double(va[size_t(i * 300 + k)]) * vb[size_t(k * 270 + j)];
      EXPECT_NEAR(vc[size_t(i * 270 + j)], s, 1e-4);
    }
}

TEST(Views, TransposedAndSlicedInputsGiveContiguousResults) {
  Generator gen(7);
  Tensor a = random_tensor({6, 8}, gen), b = random_tensor({8, 6}, gen);
  Tensor at = a.transpose(0, 1), bs = b.slice(0, 0, 8, 2);  // (8, 6) and (4, 6)
  EXPECT_EQ(ops::matmul(at, b.transpose(0, 1)).to_f32_vector(),
            ops::matmul(at.contiguous(), b.transpose(0, 1).contiguous()).to_f32_vector());
  EXPECT_EQ(ops::add(at, b).to_f32_vector(), ops::add(at.contiguous(), b).to_f32_vector());
  EXPECT_EQ(ops::sum(bs, {1}).to_f32_vector(), ops::sum(bs.contiguous(), {1}).to_f32_vector());
  EXPECT_EQ(ops::mul(bs, bs).to_f32_vector(), ops::mul(bs.contiguous(), bs.contiguous()).to_f32_vector());
  EXPECT_EQ(ops::linear(at, b).to_f32_vector(), ops::linear(at.contiguous(), b).to_f32_vector());
}

TEST(Views, GradientsFlowThroughViews) {
  Generator gen(8);
  auto x = random_param({4, 6}, gen);
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return v[0].transpose(0, 1).slice(0, 1, 5, 2); }, {x}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return v[0].reshape({2, 12}).unsqueeze(0).expand({3, 2, 12}); }, {x}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return v[0].permute({1, 0}).contiguous().view({3, 8}); }, {x}));
}

TEST(Ops, BadShapesNameTheOp) {
  Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4, 5});
  try {
    ops::matmul(a, b);
    FAIL();
  } catch (const OpError& e) {
    EXPECT_NE(std::string(e.what()).find("[matmul]"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("[2, 3]"), std::string::npos);
  }
  EXPECT_THROW(ops::add(a, b), OpError);
}

}  // namespace
}  // namespace anvil
