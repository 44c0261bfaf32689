// cross_entropy (the loss family). For each op: a finite-difference gradcheck on odd shapes,
// forward values against a double-precision formula written out here, bf16 inputs against the f32
// result on the same (bf16-rounded) values, strided inputs against their contiguous copies, and the
// error cases.
//
// gradcheck-covers: loss
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
using test::softmax_ref;
using test::as_doubles;
using test::expect_values;
using test::expect_op_error;
using test::kBf16RelTol;

// Mean over kept rows of logsumexp(row) - row[target], in double.
double cross_entropy_ref(const Tensor& logits, const std::vector<int64_t>& targets, int64_t ignore) {
  auto x = as_doubles(logits);
  const int64_t V = logits.size(1);
  double total = 0;
  int64_t count = 0;
  for (size_t r = 0; r < targets.size(); ++r) {
    if (targets[r] == ignore) continue;
    std::vector<double> row(x.begin() + int64_t(r) * V, x.begin() + int64_t(r + 1) * V);
    auto ls = softmax_ref(row, {V}, 0, true);
    total -= ls[size_t(targets[r])];
    ++count;
  }
  return count ? total / double(count) : 0.0;
}

TEST(CrossEntropy, GradcheckWithIgnoredRows) {
  Generator gen(31);
  auto logits = random_param({7, 9}, gen, -2.0f, 2.0f);
  Tensor targets = Tensor::from_ints({3, -100, 0, 8, 8, -100, 5}, {7});
  EXPECT_TRUE(gradcheck([targets](const std::vector<Tensor>& v) { return ops::cross_entropy(v[0], targets); },
                        {logits}));
  Tensor t32 = Tensor::from_ints({1, 2, 0, 4, 4, 3, 2}, {7}, DType::I32);
  EXPECT_TRUE(gradcheck([t32](const std::vector<Tensor>& v) { return ops::cross_entropy(v[0], t32, 2); }, {logits}));
}

TEST(CrossEntropy, ForwardAndGradientMatchFormula) {
  Generator gen(32);
  Tensor logits = random_tensor({5, 11}, gen, -3.0f, 3.0f);
  std::vector<int64_t> t = {10, 0, -1, 4, 7};
  Tensor targets = Tensor::from_ints(t, {5});
  Tensor lp = logits.clone().set_requires_grad(true);
  Tensor loss = ops::cross_entropy(lp, targets, -1);
  EXPECT_EQ(loss.shape(), Shape{});
  EXPECT_NEAR(loss.item(), cross_entropy_ref(logits, t, -1), 1e-5);
  loss.backward();
  // d loss / d logits = (softmax - onehot) / count on kept rows, 0 on the ignored row.
  auto sm = softmax_ref(as_doubles(logits), {5, 11}, 1, false);
  std::vector<double> want(sm.size());
  for (int64_t r = 0; r < 5; ++r)
    for (int64_t j = 0; j < 11; ++j) {
      size_t k = size_t(r * 11 + j);
      want[k] = t[size_t(r)] == -1 ? 0.0 : (sm[k] - (j == t[size_t(r)] ? 1.0 : 0.0)) / 4.0;
    }
  expect_values(lp.grad(), want, 1e-4, "cross_entropy grad");
  // Large logits stay finite.
  Tensor big = Tensor::from_vector({1000, 0, -1000, 500}, {2, 2});
  EXPECT_NEAR(ops::cross_entropy(big, Tensor::from_ints({1, 0}, {2})).item(),
              cross_entropy_ref(big, {1, 0}, -100), 1e-3);
}

TEST(CrossEntropy, AllIgnoredGivesZeroLossAndZeroGradient) {
  Generator gen(33);
  auto logits = random_param({3, 4}, gen);
  Tensor loss = ops::cross_entropy(logits, Tensor::from_ints({-100, -100, -100}, {3}));
  EXPECT_EQ(loss.item(), 0.0f);
  loss.backward();
  for (float g : logits.grad().to_f32_vector()) EXPECT_EQ(g, 0.0f);
}

TEST(CrossEntropy, Bf16AndStridedLogits) {
  Generator gen(34);
  Tensor lb = random_tensor({6, 13}, gen, -3.0f, 3.0f, DType::BF16);
  Tensor targets = Tensor::from_ints({0, 12, 5, 5, 1, 7}, {6});
  Tensor lf = lb.to(DType::F32);
  Tensor loss_b = ops::cross_entropy(lb, targets), loss_f = ops::cross_entropy(lf, targets);
  EXPECT_EQ(loss_b.dtype(), DType::BF16);
  EXPECT_LE(test::max_rel_error(loss_b, loss_f), kBf16RelTol);
  // Logits given as the transpose of a (V, N) buffer, and as a sliced view.
  Tensor vn = random_tensor({13, 6}, gen);
  Tensor lt = vn.transpose(0, 1);  // (6, 13)
  EXPECT_EQ(ops::cross_entropy(lt, targets).item(), ops::cross_entropy(lt.contiguous(), targets).item());
  Tensor wide = random_tensor({6, 26}, gen);
  Tensor ls = wide.slice(1, 0, 26, 2);  // (6, 13)
  EXPECT_EQ(ops::cross_entropy(ls, targets).item(), ops::cross_entropy(ls.contiguous(), targets).item());
  Tensor tsl = Tensor::from_ints({0, 9, 12, 9, 5, 9, 5, 9, 1, 9, 7, 9}, {12}).slice(0, 0, 12, 2);
  EXPECT_EQ(ops::cross_entropy(lf, tsl).item(), loss_f.item());
}

TEST(CrossEntropy, Errors) {
  Tensor logits = Tensor::zeros({4, 5});
  expect_op_error([&] { ops::cross_entropy(logits, Tensor::from_ints({0, 1, 7, 2}, {4})); },
                  {"[cross_entropy]", "target 7", "row 2", "[4, 5]"});
  expect_op_error([&] { ops::cross_entropy(logits, Tensor::from_ints({0, -3, 1, 2}, {4}, DType::I32)); },
                  {"target -3", "row 1"});
  expect_op_error([&] { ops::cross_entropy(logits, Tensor::from_ints({0, 1, 2}, {3})); }, {"[cross_entropy]", "[3]"});
  expect_op_error([&] { ops::cross_entropy(logits, Tensor::zeros({4})); }, {"[cross_entropy]", "i32 or i64"});
  expect_op_error([&] { ops::cross_entropy(Tensor::zeros({2, 2, 5}), Tensor::from_ints({0, 1}, {2})); },
                  {"(N, V)"});
}

// Sizes that cross the kernels' parallel thresholds.

TEST(CrossEntropy, LargeInputsMatchDoubleFormula) {
  Generator gen(81);
  const Shape shape{70, 301};  // 21070 elements: above every kernel's single-thread cutoff
  Tensor x = random_tensor(shape, gen, -3.0f, 3.0f);
  std::vector<int64_t> t;
  for (int64_t r = 0; r < 70; ++r) t.push_back(r % 5 == 0 ? -100 : (r * 37) % 301);
  EXPECT_NEAR(ops::cross_entropy(x, Tensor::from_ints(t, {70})).item(), cross_entropy_ref(x, t, -100), 1e-5);
}

}  // namespace
}  // namespace anvil
