// The elementwise ops (add, sub, mul, div, scalar ops, neg). Gradient checks (finite differences)
// and values against naive formulas.
//
// gradcheck-covers: elementwise
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <tuple>
#include <utility>

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

// Mixed dtypes promote the same way whichever side each is on (f32 wins; bf16 with f16 gives f32;
// equal dtypes stay), and each input's gradient comes back in that input's own dtype.
TEST(Elementwise, MixedDtypesPromoteSymmetricallyAndGradientsKeepTheInputDtype) {
  Generator gen(4);
  using Op = Tensor (*)(const Tensor&, const Tensor&);
  const std::pair<const char*, Op> ops_list[] = {{"add", &ops::add}, {"sub", &ops::sub}, {"mul", &ops::mul},
                                                 {"div", &ops::div}};
  const std::tuple<DType, DType, DType> cases[] = {{DType::BF16, DType::F32, DType::F32},
                                                   {DType::F32, DType::BF16, DType::F32},
                                                   {DType::F16, DType::BF16, DType::F32},
                                                   {DType::BF16, DType::BF16, DType::BF16},
                                                   {DType::F16, DType::F16, DType::F16}};
  for (const auto& [name, op] : ops_list) {
    for (const auto& [da, db, want] : cases) {
      SCOPED_TRACE(std::string(name) + " " + std::string(dtype_name(da)) + ", " + std::string(dtype_name(db)));
      Tensor a = Tensor::rand({3, 4}, gen, 0.5f, 2.0f).to(da), b = Tensor::rand({4}, gen, 0.5f, 2.0f).to(db);
      a.set_requires_grad(true);
      b.set_requires_grad(true);
      Tensor y = op(a, b);
      EXPECT_EQ(y.dtype(), want);
      // The value is the f32 op on the same (rounded) inputs, rounded once to the result dtype.
      const Tensor ref = op(a.detach().to(DType::F32), b.detach().to(DType::F32)).to(want);
      EXPECT_EQ(y.to_f32_vector(), ref.to_f32_vector());
      ops::sum(y).backward();
      ASSERT_TRUE(a.grad().defined() && b.grad().defined());
      EXPECT_EQ(a.grad().dtype(), da);
      EXPECT_EQ(b.grad().dtype(), db);
      EXPECT_EQ(b.grad().shape(), b.shape());
    }
  }
}

}  // namespace
}  // namespace anvil
