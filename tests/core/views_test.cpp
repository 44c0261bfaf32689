// Views (transpose, slice, reshape, expand, permute) as op inputs and in the graph: strided inputs
// give the same results as contiguous copies, and gradients flow back through view chains.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/support/gradcheck.h"

namespace anvil {
namespace {

using test::gradcheck;
using test::random_param;
using test::random_tensor;

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

}  // namespace
}  // namespace anvil
