// softmax and log_softmax. For each op: a finite-difference gradcheck on odd shapes, forward values
// against a double-precision formula written out here, bf16 inputs against the f32 result on the
// same (bf16-rounded) values, strided inputs against their contiguous copies, and the error cases.
//
// gradcheck-covers: softmax
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

// softmax of `x` (contiguous values, `shape`) over dim d, in double.
TEST(Softmax, GradcheckEveryDim) {
  Generator gen(21);
  auto x = random_param({2, 5, 9}, gen, -2.0f, 2.0f);
  auto y = random_param({3, 7}, gen, -2.0f, 2.0f);
  for (int64_t d : {0, 1, 2, -1}) {
    EXPECT_TRUE(gradcheck([d](const std::vector<Tensor>& v) { return ops::softmax(v[0], d); }, {x})) << d;
    EXPECT_TRUE(gradcheck([d](const std::vector<Tensor>& v) { return ops::log_softmax(v[0], d); }, {x})) << d;
  }
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return ops::softmax(v[0], 0); }, {y}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return ops::log_softmax(v[0]); }, {y}));
}

TEST(Softmax, ForwardMatchesDoubleFormulaAndIsStable) {
  Generator gen(22);
  const Shape shape{2, 5, 9};
  Tensor x = random_tensor(shape, gen, -3.0f, 3.0f);
  for (int64_t d : {0, 1, 2}) {
    expect_values(ops::softmax(x, d), softmax_ref(as_doubles(x), shape, d, false), 1e-5, "softmax");
    expect_values(ops::log_softmax(x, d), softmax_ref(as_doubles(x), shape, d, true), 1e-5, "log_softmax");
  }
  // Logits around 1000 would overflow a naive exp; the shift by the max keeps them finite.
  Tensor big = Tensor::from_vector({1000, 1001, 1002, -1000, 0, 1000}, {2, 3});
  auto want_sm = softmax_ref(as_doubles(big), {2, 3}, 1, false);
  auto want_ls = softmax_ref(as_doubles(big), {2, 3}, 1, true);
  expect_values(ops::softmax(big), want_sm, 1e-5, "softmax big");
  expect_values(ops::log_softmax(big), want_ls, 1e-5, "log_softmax big");
}

TEST(Softmax, Bf16WithinToleranceOfF32) {
  Generator gen(23);
  Tensor xb = random_tensor({3, 7}, gen, -3.0f, 3.0f, DType::BF16);
  Tensor xf = xb.to(DType::F32);
  for (int64_t d : {0, 1}) {
    EXPECT_LE(test::max_rel_error(ops::softmax(xb, d), ops::softmax(xf, d), 1e-2), kBf16RelTol);
    EXPECT_LE(test::max_rel_error(ops::log_softmax(xb, d), ops::log_softmax(xf, d), 1e-2), kBf16RelTol);
  }
  EXPECT_EQ(ops::softmax(xb).dtype(), DType::BF16);
}

TEST(Softmax, StridedInputsMatchContiguousCopies) {
  Generator gen(24);
  Tensor base = random_tensor({5, 4, 7}, gen, -2.0f, 2.0f);
  Tensor t = base.permute({2, 0, 1});        // (7, 5, 4)
  Tensor s = base.slice(2, 0, 7, 2);          // (5, 4, 4)
  for (int64_t d : {0, 1, 2}) {
    EXPECT_EQ(ops::softmax(t, d).to_f32_vector(), ops::softmax(t.contiguous(), d).to_f32_vector());
    EXPECT_EQ(ops::log_softmax(s, d).to_f32_vector(), ops::log_softmax(s.contiguous(), d).to_f32_vector());
  }
}

TEST(Softmax, Errors) {
  expect_op_error([] { ops::softmax(Tensor::zeros({2, 3}), 2); }, {"[softmax]", "dim 2"});
  expect_op_error([] { ops::log_softmax(Tensor::arange(3), 0); }, {"[log_softmax]"});
}

// Sizes that cross the kernels' parallel thresholds.

TEST(Softmax, LargeInputsMatchDoubleFormula) {
  Generator gen(81);
  const Shape shape{70, 301};  // 21070 elements: above every kernel's single-thread cutoff
  Tensor x = random_tensor(shape, gen, -3.0f, 3.0f);
  auto xd = as_doubles(x);
  for (int64_t d : {0, 1}) {
    expect_values(ops::softmax(x, d), softmax_ref(xd, shape, d, false), 1e-5, "softmax large");
    expect_values(ops::log_softmax(x, d), softmax_ref(xd, shape, d, true), 1e-5, "log_softmax large");
  }
}

}  // namespace
}  // namespace anvil
