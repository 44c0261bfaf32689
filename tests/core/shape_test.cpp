// concat and split (the shape family). For each op: a finite-difference gradcheck on odd shapes,
// forward values against a double-precision formula written out here, bf16 inputs against the f32
// result on the same (bf16-rounded) values, strided inputs against their contiguous copies, and the
// error cases.
//
// gradcheck-covers: shape
#include <gtest/gtest.h>

#include <cmath>

#include "tests/support/gradcheck.h"
#include "tests/support/op_checks.h"

namespace anvil {
namespace {

using test::gradcheck;
using test::random_param;
using test::random_tensor;
using test::expect_op_error;

TEST(Shape, ConcatValuesAndGradcheck) {
  Generator gen(61);
  auto a = random_param({2, 3, 5}, gen), b = random_param({2, 4, 5}, gen), c = random_param({2, 1, 5}, gen);
  Tensor cat = ops::concat({a, b, c}, 1);
  EXPECT_EQ(cat.shape(), (Shape{2, 8, 5}));
  auto va = a.to_f32_vector(), vb = b.to_f32_vector(), vcat = cat.to_f32_vector();
  for (size_t o = 0; o < 2; ++o)
    for (size_t k = 0; k < 8; ++k)
      for (size_t i = 0; i < 5; ++i) {
        float got = vcat[(o * 8 + k) * 5 + i];
        if (k < 3) {
          EXPECT_EQ(got, va[(o * 3 + k) * 5 + i]);
        } else if (k < 7) {
          EXPECT_EQ(got, vb[(o * 4 + (k - 3)) * 5 + i]);
        } else {
          EXPECT_EQ(got, c.to_f32_vector()[o * 5 + i]);
        }
      }
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return ops::concat(v, 1); }, {a, b, c}));
  auto x = random_param({3, 7}, gen), y = random_param({2, 7}, gen);
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return ops::concat(v, 0); }, {x, y}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return ops::concat({v[0], v[0]}, -1); }, {x}));
  Tensor ints = ops::concat({Tensor::from_ints({1, 2}, {2}), Tensor::from_ints({3}, {1})}, 0);
  EXPECT_EQ(ints.dtype(), DType::I64);
  EXPECT_EQ(ints.to_i64_vector(), (std::vector<int64_t>{1, 2, 3}));
}

TEST(Shape, SplitPiecesAreViewsAndDifferentiable) {
  Generator gen(62);
  auto x = random_param({2, 5, 9}, gen);
  auto pieces = ops::split(x, {4, 0, 5}, 2);
  ASSERT_EQ(pieces.size(), 3u);
  EXPECT_EQ(pieces[0].shape(), (Shape{2, 5, 4}));
  EXPECT_EQ(pieces[1].shape(), (Shape{2, 5, 0}));
  EXPECT_EQ(pieces[2].shape(), (Shape{2, 5, 5}));
  EXPECT_EQ(pieces[2].storage(), x.storage());
  EXPECT_EQ(ops::concat(pieces, 2).to_f32_vector(), x.to_f32_vector());
  for (size_t i : {size_t(0), size_t(2)})
    EXPECT_TRUE(gradcheck([i](const std::vector<Tensor>& v) { return ops::split(v[0], {4, 0, 5}, -1)[i]; }, {x}));
  // Both pieces used at once: their gradients land in disjoint bands of x's gradient.
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) {
    auto p = ops::split(v[0], {2, 3}, 1);
    return ops::mul(p[0], p[1].slice(1, 0, 2));
  }, {x}));
}

TEST(Shape, Bf16AndStridedInputs) {
  Generator gen(63);
  Tensor ab = random_tensor({3, 4}, gen, -1.0f, 1.0f, DType::BF16), bb = random_tensor({3, 2}, gen, -1.0f, 1.0f, DType::BF16);
  Tensor cb = ops::concat({ab, bb}, 1);
  EXPECT_EQ(cb.dtype(), DType::BF16);
  EXPECT_EQ(cb.to_f32_vector(), ops::concat({ab.to(DType::F32), bb.to(DType::F32)}, 1).to_f32_vector());
  Tensor t = random_tensor({4, 3}, gen).transpose(0, 1);    // (3, 4)
  Tensor s = random_tensor({3, 8}, gen).slice(1, 1, 8, 3);  // (3, 3)
  EXPECT_EQ(ops::concat({t, s}, 1).to_f32_vector(), ops::concat({t.contiguous(), s.contiguous()}, 1).to_f32_vector());
  auto parts = ops::split(t, {1, 3}, 1);
  EXPECT_EQ(parts[1].to_f32_vector(), t.contiguous().slice(1, 1, 4).to_f32_vector());
}

TEST(Shape, Errors) {
  Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4, 5});
  expect_op_error([&] { ops::concat({a, b}, 0); }, {"[concat]", "[4, 5]", "[2, 3]"});
  expect_op_error([&] { ops::concat({a, Tensor::zeros({2, 3}, DType::BF16)}, 0); }, {"[concat]", "dtypes"});
  expect_op_error([&] { ops::concat({}, 0); }, {"[concat]"});
  expect_op_error([&] { ops::concat({a, a}, 2); }, {"[concat]", "dim 2"});
  expect_op_error([&] { ops::split(a, {1, 1}, 1); }, {"[split]", "sum to 2", "[2, 3]"});
  expect_op_error([&] { ops::split(a, {4, -1}, 1); }, {"[split]", "negative"});
}

}  // namespace
}  // namespace anvil
