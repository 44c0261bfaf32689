// The reductions (sum, mean, max). Gradient checks (finite differences) and values against naive
// formulas.
//
// gradcheck-covers: reduce
#include <gtest/gtest.h>

#include <cmath>

#include "tests/support/gradcheck.h"

namespace anvil {
namespace {

using test::gradcheck;
using test::random_param;

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

}  // namespace
}  // namespace anvil
