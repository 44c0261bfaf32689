// contiguous and to_dtype (the copy family): gradients through a layout copy and a cast.
//
// gradcheck-covers: copy
#include <gtest/gtest.h>

#include <cmath>

#include "tests/support/gradcheck.h"

namespace anvil {
namespace {

using test::gradcheck;
using test::random_param;

TEST(Copy, ContiguousAndCastGradients) {
  Generator gen(71);
  auto x = random_param({3, 7}, gen);
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return ops::contiguous(v[0].transpose(0, 1)); }, {x}));
  // A cast's gradient is cast back: bf16 round trip passes ones through as f32 ones.
  x.zero_grad();
  ops::sum(ops::to_dtype(ops::to_dtype(x, DType::BF16), DType::F32)).backward();
  EXPECT_EQ(x.grad().dtype(), DType::F32);
  for (float g : x.grad().to_f32_vector()) EXPECT_EQ(g, 1.0f);
}

}  // namespace
}  // namespace anvil
