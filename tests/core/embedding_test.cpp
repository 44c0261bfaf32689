// embedding. For each op: a finite-difference gradcheck on odd shapes, forward values against a
// double-precision formula written out here, bf16 inputs against the f32 result on the same
// (bf16-rounded) values, strided inputs against their contiguous copies, and the error cases.
//
// gradcheck-covers: embedding
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

TEST(Embedding, GathersRowsAndGradcheckWithRepeatedIds) {
  Generator gen(41);
  auto weight = random_param({7, 5}, gen);
  Tensor ids = Tensor::from_ints({3, 0, 6, 3, 3, 1}, {2, 3});
  Tensor out = ops::embedding(weight, ids);
  EXPECT_EQ(out.shape(), (Shape{2, 3, 5}));
  auto w = weight.to_f32_vector(), o = out.to_f32_vector();
  auto id = ids.to_i64_vector();
  for (size_t k = 0; k < id.size(); ++k)
    for (size_t c = 0; c < 5; ++c) EXPECT_EQ(o[k * 5 + c], w[size_t(id[k]) * 5 + c]);
  EXPECT_TRUE(gradcheck([ids](const std::vector<Tensor>& v) { return ops::embedding(v[0], ids); }, {weight}));
  // The gradient of a plain sum counts how often each row was used (row 3 three times).
  weight.zero_grad();
  ops::sum(ops::embedding(weight, ids)).backward();
  auto g = weight.grad().to_f32_vector();
  const std::vector<float> uses = {1, 1, 0, 3, 0, 0, 1};
  for (size_t r = 0; r < 7; ++r)
    for (size_t c = 0; c < 5; ++c) EXPECT_EQ(g[r * 5 + c], uses[r]);
}

TEST(Embedding, LargeBackwardIsDeterministic) {
  // Big enough for the parallel column-block path; the sum order per row is the id order, so
  // two runs are bitwise equal and match a serial double-precision scatter closely.
  Generator gen(42);
  const int64_t V = 50, C = 300, n = 400;
  auto weight = random_param({V, C}, gen);
  std::vector<int64_t> idv;
  for (int64_t k = 0; k < n; ++k) idv.push_back(int64_t(Philox4x32::word(9, uint64_t(k)) % uint64_t(V)));
  Tensor ids = Tensor::from_ints(idv, {n});
  Tensor gout = random_tensor({n, C}, gen);
  ops::embedding(weight, ids).backward(gout);
  auto g1 = weight.grad().to_f32_vector();
  weight.zero_grad();
  ops::embedding(weight, ids).backward(gout);
  EXPECT_EQ(weight.grad().to_f32_vector(), g1);
  std::vector<double> want(size_t(V * C), 0.0);
  auto go = gout.to_f32_vector();
  for (int64_t k = 0; k < n; ++k)
    for (int64_t c = 0; c < C; ++c) want[size_t(idv[size_t(k)] * C + c)] += go[size_t(k * C + c)];
  for (size_t i = 0; i < want.size(); ++i) ASSERT_NEAR(g1[i], want[i], 1e-4) << i;
}

TEST(Embedding, Bf16AndStridedInputs) {
  Generator gen(43);
  Tensor wb = random_tensor({6, 4}, gen, -1.0f, 1.0f, DType::BF16);
  Tensor ids = Tensor::from_ints({5, 0, 2, 2}, {4}, DType::I32);
  Tensor ob = ops::embedding(wb, ids);
  EXPECT_EQ(ob.dtype(), DType::BF16);
  // A gather copies the stored values exactly.
  EXPECT_EQ(ob.to_f32_vector(), ops::embedding(wb.to(DType::F32), ids).to_f32_vector());
  Tensor wt = random_tensor({4, 6}, gen).transpose(0, 1);  // (6, 4) strided table
  Tensor id_sl = Tensor::from_ints({1, 9, 3, 9, 5, 9}, {6}).slice(0, 0, 6, 2);
  EXPECT_EQ(ops::embedding(wt, id_sl).to_f32_vector(), ops::embedding(wt.contiguous(), id_sl.contiguous()).to_f32_vector());
}

TEST(Embedding, Errors) {
  Tensor w = Tensor::zeros({5, 3});
  expect_op_error([&] { ops::embedding(w, Tensor::from_ints({0, 5}, {2})); }, {"[embedding]", "id 5", "V = 5"});
  expect_op_error([&] { ops::embedding(w, Tensor::from_ints({-1}, {1})); }, {"id -1"});
  expect_op_error([&] { ops::embedding(w, Tensor::zeros({2})); }, {"[embedding]", "i32 or i64"});
  expect_op_error([&] { ops::embedding(Tensor::zeros({5}), Tensor::from_ints({0}, {1})); }, {"(V, C)"});
}

}  // namespace
}  // namespace anvil
