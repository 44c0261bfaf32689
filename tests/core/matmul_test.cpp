// matmul and linear. Gradient checks (finite differences) and values against naive formulas.
//
// gradcheck-covers: matmul
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "tests/support/gradcheck.h"

namespace anvil {
namespace {

using test::gradcheck;
using test::random_param;
using test::random_tensor;

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

TEST(Matmul, BadShapesNameTheOp) {
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
