// CPU op families, part A: unary, softmax, loss, embedding, dropout, shape (and copy's gradient).
// For each op: a finite-difference gradcheck on odd shapes, forward values against a
// double-precision formula written out here, bf16 inputs against the f32 result on the same
// (bf16-rounded) values, strided inputs against their contiguous copies, and the error cases.
//
// gradcheck-covers: unary softmax loss embedding dropout shape copy
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>

#include "tests/support/gradcheck.h"

namespace anvil {
namespace {

using test::gradcheck;
using test::random_param;
using test::random_tensor;

// bf16 keeps 8 significant bits: one rounding of the output is at most 2^-9 relative; allow two
// roundings (the op's f32 -> bf16 store and any f32 intermediate) plus slack.
constexpr double kBf16RelTol = 1.0 / 128;
// f32 kernels against the double formula: a few ulps of float.
constexpr double kF32RelTol = 2e-6;

std::vector<double> as_doubles(const Tensor& t) {
  auto v = t.to_f32_vector();
  return std::vector<double>(v.begin(), v.end());
}

// Every element of `got` within rel_tol * max(|want|, 1e-3) of `want`.
void expect_values(const Tensor& got, const std::vector<double>& want, double rel_tol, const std::string& what) {
  auto g = got.to_f32_vector();
  ASSERT_EQ(g.size(), want.size()) << what;
  for (size_t i = 0; i < g.size(); ++i)
    ASSERT_NEAR(g[i], want[i], rel_tol * std::max(std::abs(want[i]), 1e-3)) << what << " element " << i;
}

// Runs f and expects an OpError whose message contains every fragment.
void expect_op_error(const std::function<void()>& f, const std::vector<std::string>& fragments) {
  try {
    f();
    ADD_FAILURE() << "expected an OpError containing " << fragments[0];
  } catch (const OpError& e) {
    for (const auto& frag : fragments)
      EXPECT_NE(std::string(e.what()).find(frag), std::string::npos) << "message: " << e.what() << "\nmissing: " << frag;
  }
}

// ---- unary -------------------------------------------------------------------------------------

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

// ---- softmax / log_softmax ---------------------------------------------------------------------

// softmax of `x` (contiguous values, `shape`) over dim d, in double.
std::vector<double> softmax_ref(const std::vector<double>& x, const Shape& shape, int64_t d, bool log) {
  int64_t outer = 1, inner = 1, n = shape[size_t(d)];
  for (int64_t i = 0; i < d; ++i) outer *= shape[size_t(i)];
  for (size_t i = size_t(d) + 1; i < shape.size(); ++i) inner *= shape[i];
  std::vector<double> out(x.size());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      auto at = [&](int64_t k) { return size_t((o * n + k) * inner + i); };
      double mx = -INFINITY, total = 0;
      for (int64_t k = 0; k < n; ++k) mx = std::max(mx, x[at(k)]);
      for (int64_t k = 0; k < n; ++k) total += std::exp(x[at(k)] - mx);
      for (int64_t k = 0; k < n; ++k)
        out[at(k)] = log ? x[at(k)] - mx - std::log(total) : std::exp(x[at(k)] - mx) / total;
    }
  return out;
}

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

// ---- cross_entropy -----------------------------------------------------------------------------

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

// ---- embedding ---------------------------------------------------------------------------------

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

// ---- dropout -----------------------------------------------------------------------------------

TEST(Dropout, MaskFollowsPhiloxAndAdvancesGenerator) {
  Generator gen(51);
  Tensor x = random_tensor({3, 7}, gen, 0.5f, 1.5f);  // never 0, so zeros mean dropped
  const float p = 0.3f;
  Generator dg(1234);
  dg.offset = 17;
  auto y = ops::dropout(x, p, dg).to_f32_vector();
  EXPECT_EQ(dg.offset, 17u + 21u);
  auto xv = x.to_f32_vector();
  for (size_t i = 0; i < xv.size(); ++i) {
    const bool dropped = Philox4x32::uniform(1234, 17 + i) < p;
    if (dropped) {
      EXPECT_EQ(y[i], 0.0f) << i;
    } else {
      EXPECT_NEAR(y[i], double(xv[i]) / (1.0 - p), 1e-6) << i;
    }
  }
  // The fraction dropped over many elements is close to p.
  Generator big_gen(5);
  auto ones = ops::dropout(Tensor::ones({100000}), 0.25f, big_gen).to_f32_vector();
  int64_t zeros = 0;
  for (float v : ones) zeros += v == 0.0f;
  EXPECT_NEAR(double(zeros) / 100000.0, 0.25, 0.01);
}

TEST(Dropout, GradcheckWithFixedStream) {
  Generator gen(52);
  for (Shape shape : {Shape{3, 7}, Shape{2, 5, 9}}) {
    auto x = random_param(shape, gen);
    // Each evaluation draws from a fresh generator with the same seed: the same mask every time.
    EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) {
      Generator g(99);
      return ops::dropout(v[0], 0.4f, g);
    }, {x}));
  }
}

TEST(Dropout, ZeroProbabilityIsIdentityWithoutCopy) {
  Generator gen(53);
  Tensor x = random_tensor({4, 3}, gen);
  Generator dg(7);
  Tensor y = ops::dropout(x, 0.0f, dg);
  EXPECT_EQ(y.impl(), x.impl());
  EXPECT_EQ(dg.offset, 0u);
}

TEST(Dropout, Bf16AndStridedInputs) {
  Generator gen(54);
  Tensor xb = random_tensor({5, 9}, gen, -1.0f, 1.0f, DType::BF16);
  Generator g1(3), g2(3);
  Tensor yb = ops::dropout(xb, 0.5f, g1);
  EXPECT_EQ(yb.dtype(), DType::BF16);
  EXPECT_LE(test::max_rel_error(yb, ops::dropout(xb.to(DType::F32), 0.5f, g2), 1e-2), kBf16RelTol);
  // Element i of the mask is element i in row-major order of the logical shape, whatever the strides.
  Tensor xt = random_tensor({9, 5}, gen).transpose(0, 1);
  Generator g3(8), g4(8);
  EXPECT_EQ(ops::dropout(xt, 0.5f, g3).to_f32_vector(), ops::dropout(xt.contiguous(), 0.5f, g4).to_f32_vector());
}

TEST(Dropout, RejectsBadProbability) {
  Generator g(1);
  Tensor x = Tensor::ones({2, 2});
  expect_op_error([&] { ops::dropout(x, 1.0f, g); }, {"[dropout]", "[0, 1)", "[2, 2]"});
  expect_op_error([&] { ops::dropout(x, -0.1f, g); }, {"[dropout]"});
  expect_op_error([&] { ops::dropout(Tensor::arange(3), 0.5f, g); }, {"[dropout]"});
}

// ---- concat / split ----------------------------------------------------------------------------

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

// ---- sizes that cross the kernels' parallel thresholds ------------------------------------------

TEST(LargeInputs, ParallelPathsMatchDoubleFormulas) {
  Generator gen(81);
  const Shape shape{70, 301};  // 21070 elements: above every kernel's single-thread cutoff
  Tensor x = random_tensor(shape, gen, -3.0f, 3.0f);
  auto xd = as_doubles(x);
  std::vector<double> want;
  for (double v : xd) want.push_back(gelu_ref(v));
  expect_values(ops::gelu(x), want, 1e-5, "gelu large");
  for (int64_t d : {0, 1}) {
    expect_values(ops::softmax(x, d), softmax_ref(xd, shape, d, false), 1e-5, "softmax large");
    expect_values(ops::log_softmax(x, d), softmax_ref(xd, shape, d, true), 1e-5, "log_softmax large");
  }
  std::vector<int64_t> t;
  for (int64_t r = 0; r < 70; ++r) t.push_back(r % 5 == 0 ? -100 : (r * 37) % 301);
  EXPECT_NEAR(ops::cross_entropy(x, Tensor::from_ints(t, {70})).item(), cross_entropy_ref(x, t, -100), 1e-5);
}

// ---- copy (contiguous / to_dtype) --------------------------------------------------------------

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
