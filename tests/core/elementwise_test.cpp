// The elementwise ops (add, sub, mul, div, scalar ops, neg). Gradient checks (finite differences)
// and values against naive formulas.
//
// gradcheck-covers: elementwise
#include <gtest/gtest.h>

#include <cmath>

#include "tests/support/gradcheck.h"

namespace anvil {
namespace {

using test::gradcheck;
using test::random_param;

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

}  // namespace
}  // namespace anvil
