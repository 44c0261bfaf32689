// The unary math and activation ops (exp, log, tanh, sqrt, gelu, silu, relu). For each op: a
// finite-difference gradcheck on odd shapes, forward values against a double-precision formula
// written out here, bf16 inputs against the f32 result on the same (bf16-rounded) values, strided
// inputs against their contiguous copies, and the error cases.
//
// gradcheck-covers: unary
#include <gtest/gtest.h>

#include <cmath>

#include "tests/support/gradcheck.h"
#include "tests/support/op_checks.h"

namespace anvil {
namespace {

using test::gradcheck;
using test::max_rel_error;
using test::random_tensor;
using test::as_doubles;
using test::expect_values;
using test::expect_op_error;
using test::kBf16RelTol;
using test::kF32RelTol;

struct UnaryCase {
  const char* name;
  Tensor (*op)(const Tensor&);
  double (*reference)(double);
  float lo, hi;  // input range: log and sqrt need positive inputs
};

double gelu_ref(double x) { return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x))); }
double silu_ref(double x) { return x / (1 + std::exp(-x)); }
double relu_ref(double x) { return x > 0 ? x : 0; }

const std::vector<UnaryCase>& unary_cases() {
  static const std::vector<UnaryCase> cases = {
      {"exp", ops::exp, [](double x) { return std::exp(x); }, -2.0f, 2.0f},
      {"log", ops::log, [](double x) { return std::log(x); }, 0.2f, 3.0f},
      {"tanh", ops::tanh, [](double x) { return std::tanh(x); }, -2.0f, 2.0f},
      {"sqrt", ops::sqrt, [](double x) { return std::sqrt(x); }, 0.2f, 3.0f},
      {"gelu", ops::gelu, gelu_ref, -3.0f, 3.0f},
      {"silu", ops::silu, silu_ref, -3.0f, 3.0f},
      {"relu", ops::relu, relu_ref, -2.0f, 2.0f},
  };
  return cases;
}

// Random values in [lo, hi) pushed at least `gap` away from 0, so relu's kink is never straddled
// by a finite-difference step.
Tensor away_from_zero(const Shape& shape, Generator& gen, float lo, float hi, float gap) {
  auto v = random_tensor(shape, gen, lo, hi).to_f32_vector();
  for (float& x : v)
    if (std::abs(x) < gap) x = x < 0 ? -gap - x : gap + x;
  return Tensor::from_vector(v, shape);
}

TEST(Unary, GradcheckOnOddShapes) {
  Generator gen(11);
  for (const auto& c : unary_cases()) {
    for (Shape shape : {Shape{3, 7}, Shape{2, 5, 9}}) {
      Tensor x = away_from_zero(shape, gen, c.lo, c.hi, 0.05f);
      x.set_requires_grad(true);
      auto op = c.op;
      EXPECT_TRUE(gradcheck([op](const std::vector<Tensor>& v) { return op(v[0]); }, {x})) << c.name;
    }
  }
}

TEST(Unary, ForwardMatchesDoubleFormula) {
  Generator gen(12);
  for (const auto& c : unary_cases()) {
    Tensor x = random_tensor({2, 5, 9}, gen, c.lo, c.hi);
    std::vector<double> want;
    for (double v : as_doubles(x)) want.push_back(c.reference(v));
    expect_values(c.op(x), want, kF32RelTol, c.name);
  }
  // relu is exactly 0 for negatives; gelu(0) = silu(0) = 0; large inputs do not overflow tanh.
  Tensor edges = Tensor::from_vector({-3.0f, 0.0f, 40.0f, -40.0f}, {4});
  EXPECT_EQ(ops::relu(edges).to_f32_vector(), (std::vector<float>{0, 0, 40, 0}));
  EXPECT_EQ(ops::tanh(edges).to_f32_vector()[2], 1.0f);
  EXPECT_EQ(ops::gelu(edges).to_f32_vector()[1], 0.0f);
  EXPECT_NEAR(ops::gelu(edges).to_f32_vector()[2], 40.0f, 1e-5);
  EXPECT_NEAR(ops::silu(edges).to_f32_vector()[3], 0.0f, 1e-12);
}

TEST(Unary, Bf16WithinToleranceOfF32) {
  Generator gen(13);
  for (const auto& c : unary_cases()) {
    Tensor xb = random_tensor({3, 7}, gen, c.lo, c.hi, DType::BF16);
    xb.set_requires_grad(true);
    Tensor yb = c.op(xb);
    EXPECT_EQ(yb.dtype(), DType::BF16) << c.name;
    Tensor xf = xb.detach().to(DType::F32);  // the same rounded values
    xf.set_requires_grad(true);
    Tensor yf = c.op(xf);
    EXPECT_LE(test::max_rel_error(yb, yf, 1e-2), kBf16RelTol) << c.name;
    ops::sum(yb).backward();
    ops::sum(yf).backward();
    EXPECT_EQ(xb.grad().dtype(), DType::BF16) << c.name;
    EXPECT_LE(test::max_rel_error(xb.grad(), xf.grad(), 1e-2), kBf16RelTol) << c.name;
  }
}

TEST(Unary, StridedInputsMatchContiguousCopies) {
  Generator gen(14);
  for (const auto& c : unary_cases()) {
    Tensor base = random_tensor({6, 9}, gen, c.lo, c.hi);
    Tensor t = base.transpose(0, 1);          // (9, 6), strided
    Tensor s = base.slice(1, 1, 9, 3);        // (6, 3), step 3
    EXPECT_EQ(c.op(t).to_f32_vector(), c.op(t.contiguous()).to_f32_vector()) << c.name;
    EXPECT_EQ(c.op(s).to_f32_vector(), c.op(s.contiguous()).to_f32_vector()) << c.name;
    EXPECT_EQ(c.op(t).shape(), (Shape{9, 6}));
  }
}

TEST(Unary, RejectsIntegerTensors) {
  expect_op_error([] { ops::exp(Tensor::arange(4)); }, {"[exp]", "floating"});
  expect_op_error([] { ops::gelu(Tensor::arange(4, DType::I32)); }, {"[gelu]"});
}

// Sizes that cross the kernels' parallel thresholds.

TEST(Unary, LargeInputsMatchDoubleFormula) {
  Generator gen(81);
  const Shape shape{70, 301};  // 21070 elements: above every kernel's single-thread cutoff
  Tensor x = random_tensor(shape, gen, -3.0f, 3.0f);
  auto xd = as_doubles(x);
  std::vector<double> want;
  for (double v : xd) want.push_back(gelu_ref(v));
  expect_values(ops::gelu(x), want, 1e-5, "gelu large");
}

}  // namespace
}  // namespace anvil
