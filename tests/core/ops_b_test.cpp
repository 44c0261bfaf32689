// gradcheck-covers: norm rope attention
//
// The transformer ops (layer_norm, rms_norm, rope, scaled_dot_product_attention): finite-difference
// gradchecks on odd shapes, forwards against double-precision textbook formulas computed here,
// grouped-query attention against the same computation with k/v heads repeated, strided views
// against contiguous copies, bf16 against f32, and argument errors naming the op.
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <limits>
#include <string>

#include "tests/support/gradcheck.h"

namespace anvil {
namespace {

using test::gradcheck;
using test::max_rel_error;
using test::norm_rel_error;
using test::random_param;
using test::random_tensor;

// bf16 keeps 8 bits of mantissa: one rounding of inputs and output gives ~2^-8 relative error.
constexpr double kBf16NormTolerance = 2e-2;
constexpr double kF32Tolerance = 1e-5;

// Expects `f` to throw an OpError whose message contains `needle` (the op's tag).
template <typename F>
void expect_op_error(F&& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "expected an OpError containing " << needle;
  } catch (const OpError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

std::vector<double> as_double(const Tensor& t) {
  auto v = t.to_f32_vector();
  return std::vector<double>(v.begin(), v.end());
}

void expect_close(const Tensor& got, const std::vector<double>& want, double tol) {
  auto g = got.to_f32_vector();
  ASSERT_EQ(g.size(), want.size());
  for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], want[i], tol * std::max(1.0, std::abs(want[i]))) << "at " << i;
}

// ---- norms ----------------------------------------------------------------------------------------

std::vector<double> reference_layer_norm(const Tensor& x, const Tensor& w, const Tensor& b, double eps) {
  const int64_t C = x.size(-1), N = x.numel() / C;
  auto xv = as_double(x), wv = as_double(w), bv = as_double(b);
  std::vector<double> out(xv.size());
  for (int64_t n = 0; n < N; ++n) {
    double mean = 0, var = 0;
    for (int64_t c = 0; c < C; ++c) mean += xv[size_t(n * C + c)] / double(C);
    for (int64_t c = 0; c < C; ++c) var += std::pow(xv[size_t(n * C + c)] - mean, 2) / double(C);
    for (int64_t c = 0; c < C; ++c)
      out[size_t(n * C + c)] = (xv[size_t(n * C + c)] - mean) / std::sqrt(var + eps) * wv[size_t(c)] + bv[size_t(c)];
  }
  return out;
}

std::vector<double> reference_rms_norm(const Tensor& x, const Tensor& w, double eps) {
  const int64_t C = x.size(-1), N = x.numel() / C;
  auto xv = as_double(x), wv = as_double(w);
  std::vector<double> out(xv.size());
  for (int64_t n = 0; n < N; ++n) {
    double ms = 0;
    for (int64_t c = 0; c < C; ++c) ms += xv[size_t(n * C + c)] * xv[size_t(n * C + c)] / double(C);
    for (int64_t c = 0; c < C; ++c) out[size_t(n * C + c)] = xv[size_t(n * C + c)] / std::sqrt(ms + eps) * wv[size_t(c)];
  }
  return out;
}

TEST(Norm, LayerNormMatchesTextbookFormula) {
  Generator gen(11);
  // An offset mean checks the variance does not cancel.
  Tensor x = random_tensor({3, 5, 7}, gen, 2.0f, 4.0f), w = random_tensor({7}, gen), b = random_tensor({7}, gen);
  expect_close(ops::layer_norm(x, w, b, 1e-5f), reference_layer_norm(x, w, b, 1e-5), 1e-4);
  // No affine part equals weight 1, bias 0.
  expect_close(ops::layer_norm(x, Tensor(), Tensor(), 1e-5f),
               reference_layer_norm(x, Tensor::ones({7}), Tensor::zeros({7}), 1e-5), 1e-4);
}

TEST(Norm, RmsNormMatchesTextbookFormula) {
  Generator gen(12);
  Tensor x = random_tensor({4, 9}, gen, -2.0f, 2.0f), w = random_tensor({9}, gen);
  expect_close(ops::rms_norm(x, w, 1e-6f), reference_rms_norm(x, w, 1e-6), 1e-5);
  expect_close(ops::rms_norm(x, Tensor(), 0.5f), reference_rms_norm(x, Tensor::ones({9}), 0.5), 1e-5);
}

TEST(Norm, Gradients) {
  Generator gen(13);
  auto x = random_param({3, 5, 7}, gen), w = random_param({7}, gen, 0.5f, 1.5f), b = random_param({7}, gen);
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return ops::layer_norm(v[0], v[1], v[2], 1e-5f); },
                        {x, w, b}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return ops::layer_norm(v[0], Tensor(), Tensor(), 1e-5f); },
                        {x}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return ops::rms_norm(v[0], v[1], 1e-6f); }, {x, w}));
  // Only the weight requires grad: x's gradient is skipped, the weight's is still right.
  Tensor x_fixed = random_tensor({6, 7}, gen);
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return ops::rms_norm(v[0], v[1], 1e-6f); }, {x_fixed, w}));
}

TEST(Norm, ViewsAndBf16) {
  Generator gen(14);
  Tensor x = random_tensor({7, 6}, gen), w = random_tensor({7}, gen), b = random_tensor({7}, gen);
  Tensor xt = x.transpose(0, 1);  // (6, 7), strided
  EXPECT_EQ(ops::layer_norm(xt, w, b, 1e-5f).to_f32_vector(),
            ops::layer_norm(xt.contiguous(), w, b, 1e-5f).to_f32_vector());
  Tensor xs = random_tensor({8, 7}, gen).slice(0, 1, 8, 2);  // (4, 7), every other row
  EXPECT_EQ(ops::rms_norm(xs, w, 1e-6f).to_f32_vector(), ops::rms_norm(xs.contiguous(), w, 1e-6f).to_f32_vector());

  Tensor xb = xt.to(DType::BF16), wb = w.to(DType::BF16), bb = b.to(DType::BF16);
  Tensor yb = ops::layer_norm(xb, wb, bb, 1e-5f);
  EXPECT_EQ(yb.dtype(), DType::BF16);
  EXPECT_LT(norm_rel_error(yb, ops::layer_norm(xt, w, b, 1e-5f)), kBf16NormTolerance);
  Tensor rb = ops::rms_norm(xb, wb, 1e-6f);
  EXPECT_EQ(rb.dtype(), DType::BF16);
  EXPECT_LT(norm_rel_error(rb, ops::rms_norm(xt, w, 1e-6f)), kBf16NormTolerance);
  // bf16 parameters get bf16 gradients.
  Tensor wp = wb.detach().set_requires_grad(true);
  ops::sum(ops::layer_norm(xb, wp, bb, 1e-5f)).backward();
  ASSERT_TRUE(wp.grad().defined());
  EXPECT_EQ(wp.grad().dtype(), DType::BF16);
}

TEST(Norm, BadArgumentsNameTheOp) {
  Tensor x = Tensor::zeros({2, 5}), w4 = Tensor::ones({4});
  expect_op_error([&] { ops::layer_norm(x, w4, Tensor(), 1e-5f); }, "[layer_norm]");
  expect_op_error([&] { ops::layer_norm(x, Tensor::ones({5}), w4, 1e-5f); }, "[layer_norm]");
  expect_op_error([&] { ops::rms_norm(x, w4, 1e-5f); }, "[rms_norm]");
  expect_op_error([&] { ops::rms_norm(x, w4, 1e-5f); }, "[2, 5]");
  expect_op_error([&] { ops::rms_norm(Tensor::from_ints({1, 2}, {2}), Tensor(), 1e-5f); }, "[rms_norm]");
}

// ---- rope -----------------------------------------------------------------------------------------

// Each pair (x[i], x[i + D/2]) as the complex number x[i] + j x[i + D/2], multiplied by e^(j angle).
std::vector<double> reference_rope(const Tensor& x, int64_t pos_offset, double theta) {
  const int64_t T = x.size(2), D = x.size(3), half = D / 2, rows = x.size(0) * x.size(1);
  auto xv = as_double(x);
  std::vector<double> out(xv.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t i = 0; i < half; ++i) {
        const double angle = double(pos_offset + t) * std::pow(theta, -2.0 * double(i) / double(D));
        const size_t base = size_t((r * T + t) * D);
        const std::complex<double> z(xv[base + size_t(i)], xv[base + size_t(i + half)]);
        const std::complex<double> rotated = z * std::polar(1.0, angle);
        out[base + size_t(i)] = rotated.real();
        out[base + size_t(i + half)] = rotated.imag();
      }
  return out;
}

TEST(Rope, MatchesComplexRotation) {
  Generator gen(21);
  Tensor x = random_tensor({2, 3, 5, 6}, gen);
  // f32 angles of positions up to ~12 carry ~1e-6 absolute error.
  expect_close(ops::rope(x, 7, 10000.0f), reference_rope(x, 7, 10000.0), 1e-5);
  expect_close(ops::rope(x, 0, 500000.0f), reference_rope(x, 0, 500000.0), 1e-5);
  // Position 0 is the identity.
  Tensor first = x.slice(2, 0, 1);
  EXPECT_EQ(ops::rope(first, 0, 10000.0f).to_f32_vector(), first.to_f32_vector());
}

TEST(Rope, OffsetMatchesSliceOfLongerSequence) {
  // What a KV cache relies on: rotating steps 3..5 with pos_offset 3 equals those steps of the full rotation.
  Generator gen(22);
  Tensor x = random_tensor({1, 2, 6, 8}, gen);
  Tensor full = ops::rope(x, 0, 10000.0f);
  EXPECT_EQ(ops::rope(x.slice(2, 3, 6), 3, 10000.0f).to_f32_vector(), full.slice(2, 3, 6).to_f32_vector());
}

TEST(Rope, GradientsViewsBf16AndErrors) {
  Generator gen(23);
  auto x = random_param({2, 3, 5, 6}, gen);
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return ops::rope(v[0], 4, 10000.0f); }, {x}));
  // (B, T, H, D) transposed to (B, H, T, D), as attention code produces it.
  Tensor xt = random_tensor({2, 5, 3, 6}, gen).transpose(1, 2);
  EXPECT_EQ(ops::rope(xt, 2, 10000.0f).to_f32_vector(), ops::rope(xt.contiguous(), 2, 10000.0f).to_f32_vector());
  Tensor xb = x.detach().to(DType::BF16);
  Tensor yb = ops::rope(xb, 4, 10000.0f);
  EXPECT_EQ(yb.dtype(), DType::BF16);
  EXPECT_LT(norm_rel_error(yb, ops::rope(x.detach(), 4, 10000.0f)), kBf16NormTolerance);

  expect_op_error([] { ops::rope(Tensor::zeros({1, 2, 3, 5}), 0, 10000.0f); }, "[rope]");
  expect_op_error([] { ops::rope(Tensor::zeros({1, 2, 3, 5}), 0, 10000.0f); }, "[1, 2, 3, 5]");
  expect_op_error([] { ops::rope(Tensor::zeros({2, 3, 4}), 0, 10000.0f); }, "[rope]");
  expect_op_error([] { ops::rope(Tensor::zeros({1, 1, 2, 4}), -1, 10000.0f); }, "[rope]");
}

// ---- attention ------------------------------------------------------------------------------------

// Explicit scores (T, S) per head, mask, softmax, weighted sum of values; kv head h / (Hq / Hkv).
std::vector<double> reference_attention(const Tensor& q, const Tensor& k, const Tensor& v, bool causal, double scale) {
  const int64_t B = q.size(0), Hq = q.size(1), T = q.size(2), D = q.size(3), Hkv = k.size(1), S = k.size(2);
  auto qv = as_double(q), kv = as_double(k), vv = as_double(v);
  std::vector<double> out(qv.size(), 0.0);
  std::vector<double> scores(static_cast<size_t>(S));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < Hq; ++h) {
      const int64_t hk = h / (Hq / Hkv);
      for (int64_t t = 0; t < T; ++t) {
        double max_score = -std::numeric_limits<double>::infinity();
        for (int64_t s = 0; s < S; ++s) {
          double dotp = 0;
          for (int64_t d = 0; d < D; ++d)
            dotp += qv[size_t(((b * Hq + h) * T + t) * D + d)] * kv[size_t(((b * Hkv + hk) * S + s) * D + d)];
          const bool masked = causal && s > t + (S - T);
          scores[size_t(s)] = masked ? -std::numeric_limits<double>::infinity() : dotp * scale;
          max_score = std::max(max_score, scores[size_t(s)]);
        }
        double denom = 0;
        for (int64_t s = 0; s < S; ++s) denom += std::exp(scores[size_t(s)] - max_score);
        for (int64_t s = 0; s < S; ++s) {
          const double p = std::exp(scores[size_t(s)] - max_score) / denom;
          for (int64_t d = 0; d < D; ++d)
            out[size_t(((b * Hq + h) * T + t) * D + d)] += p * vv[size_t(((b * Hkv + hk) * S + s) * D + d)];
        }
      }
    }
  return out;
}

TEST(Attention, MatchesExplicitSoftmax) {
  Generator gen(31);
  // GQA with a KV cache: S > T, so the causal window is offset by S - T.
  Tensor q = random_tensor({2, 4, 5, 6}, gen), k = random_tensor({2, 2, 7, 6}, gen), v = random_tensor({2, 2, 7, 6}, gen);
  const double default_scale = 1.0 / std::sqrt(6.0);
  expect_close(ops::scaled_dot_product_attention(q, k, v, true), reference_attention(q, k, v, true, default_scale),
               kF32Tolerance);
  expect_close(ops::scaled_dot_product_attention(q, k, v, false), reference_attention(q, k, v, false, default_scale),
               kF32Tolerance);
  expect_close(ops::scaled_dot_product_attention(q, k, v, true, 0.7f), reference_attention(q, k, v, true, 0.7),
               kF32Tolerance);
}

TEST(Attention, LongSequencesCrossKeyBlocks) {
  // More keys than one block of the online softmax, with large scores whose running max keeps rising
  // (increasing key norms), so the rescaling path runs; big enough for the multi-threaded path.
  Generator gen(32);
  const int64_t T = 200, S = 200, D = 16;
  auto q = random_param({1, 2, T, D}, gen, 0.5f, 1.0f);
  Tensor ramp = ops::mul_scalar(Tensor::arange(S, DType::F32).view({1, 1, S, 1}), 0.02f);
  Tensor k = ops::mul(random_tensor({1, 1, S, D}, gen, 0.5f, 1.0f), ops::add_scalar(ramp, 1.0f)).contiguous();
  k.set_requires_grad(true);
  auto v = random_param({1, 1, S, D}, gen);
  for (bool causal : {true, false})
    expect_close(ops::scaled_dot_product_attention(q, k, v, causal, 0.5f), reference_attention(q, k, v, causal, 0.5),
                 1e-4);
  // The whole call (threaded) against one call per query head (each small enough to run serially);
  // the shared kv head's gradients accumulate over the two calls.
  Tensor w = random_tensor({1, 2, T, D}, gen);
  ops::sum(ops::mul(ops::scaled_dot_product_attention(q, k, v, true, 0.5f), w)).backward();
  Tensor gq = q.grad(), gk = k.grad(), gv = v.grad();
  q.zero_grad();
  k.zero_grad();
  v.zero_grad();
  for (int64_t h = 0; h < 2; ++h) {
    Tensor y = ops::scaled_dot_product_attention(q.slice(1, h, h + 1), k, v, true, 0.5f);
    ops::sum(ops::mul(y, w.slice(1, h, h + 1))).backward();
  }
  EXPECT_LT(max_rel_error(gq, q.grad()), 1e-4);
  EXPECT_LT(max_rel_error(gk, k.grad()), 1e-4);
  EXPECT_LT(max_rel_error(gv, v.grad()), 1e-4);
}

TEST(Attention, Gradients) {
  Generator gen(33);
  auto q = random_param({2, 4, 5, 6}, gen), k = random_param({2, 2, 7, 6}, gen), v = random_param({2, 2, 7, 6}, gen);
  for (bool causal : {true, false}) {
    EXPECT_TRUE(gradcheck(
        [causal](const std::vector<Tensor>& a) { return ops::scaled_dot_product_attention(a[0], a[1], a[2], causal); },
        {q, k, v}))
        << "causal " << causal;
  }
  // More keys than one kernel block (64) and several query tiles, grouped heads, KV-cache offset.
  auto ql = random_param({1, 2, 66, 4}, gen), kl = random_param({1, 1, 70, 4}, gen), vl = random_param({1, 1, 70, 4}, gen);
  EXPECT_TRUE(gradcheck(
      [](const std::vector<Tensor>& a) { return ops::scaled_dot_product_attention(a[0], a[1], a[2], true); },
      {ql, kl, vl}));
  // Plain MHA with T == S.
  auto q2 = random_param({1, 3, 5, 4}, gen), k2 = random_param({1, 3, 5, 4}, gen), v2 = random_param({1, 3, 5, 4}, gen);
  EXPECT_TRUE(gradcheck(
      [](const std::vector<Tensor>& a) { return ops::scaled_dot_product_attention(a[0], a[1], a[2], true, 0.9f); },
      {q2, k2, v2}));
}

TEST(Attention, GroupedQueryEqualsRepeatedKvHeads) {
  Generator gen(34);
  const int64_t B = 2, Hq = 6, Hkv = 2, G = Hq / Hkv, T = 5, S = 7, D = 6;
  auto q = random_param({B, Hq, T, D}, gen), k = random_param({B, Hkv, S, D}, gen), v = random_param({B, Hkv, S, D}, gen);
  auto repeat_heads = [&](const Tensor& t) { return t.unsqueeze(2).expand({B, Hkv, G, S, D}).reshape({B, Hq, S, D}); };
  Tensor gqa = ops::scaled_dot_product_attention(q, k, v, true);
  std::vector<float> weights = random_tensor({B, Hq, T, D}, gen).to_f32_vector();
  Tensor w = Tensor::from_vector(weights, {B, Hq, T, D});
  ops::sum(ops::mul(gqa, w)).backward();
  Tensor gq = q.grad(), gk = k.grad(), gv = v.grad();
  q.zero_grad();
  k.zero_grad();
  v.zero_grad();
  Tensor mha = ops::scaled_dot_product_attention(q, repeat_heads(k), repeat_heads(v), true);
  ops::sum(ops::mul(mha, w)).backward();
  EXPECT_LT(max_rel_error(gqa, mha), 1e-6);
  EXPECT_LT(max_rel_error(gq, q.grad()), 1e-5);
  EXPECT_LT(max_rel_error(gk, k.grad()), 1e-5);
  EXPECT_LT(max_rel_error(gv, v.grad()), 1e-5);
}

TEST(Attention, StridedInputsEqualContiguousCopies) {
  Generator gen(35);
  // Heads split from (B, T, H, D) and transposed, and a KV cache sliced to its filled length.
  Tensor q = random_tensor({2, 5, 4, 6}, gen).transpose(1, 2);
  Tensor k = random_tensor({2, 2, 9, 6}, gen).slice(2, 0, 7);
  Tensor v = random_tensor({2, 9, 2, 6}, gen).transpose(1, 2).slice(2, 1, 8);
  ASSERT_FALSE(q.is_contiguous());
  EXPECT_EQ(ops::scaled_dot_product_attention(q, k, v, true).to_f32_vector(),
            ops::scaled_dot_product_attention(q.contiguous(), k.contiguous(), v.contiguous(), true).to_f32_vector());
  // Gradients flow back through the views.
  auto base = random_param({2, 5, 4, 6}, gen);
  auto kk = random_param({2, 2, 5, 6}, gen), vv = random_param({2, 2, 5, 6}, gen);
  EXPECT_TRUE(gradcheck(
      [](const std::vector<Tensor>& a) {
        return ops::scaled_dot_product_attention(a[0].transpose(1, 2), a[1], a[2], true);
      },
      {base, kk, vv}));
}

TEST(Attention, Bf16CloseToF32) {
  Generator gen(36);
  Tensor q = random_tensor({1, 4, 9, 8}, gen), k = random_tensor({1, 2, 9, 8}, gen), v = random_tensor({1, 2, 9, 8}, gen);
  Tensor yb = ops::scaled_dot_product_attention(q.to(DType::BF16), k.to(DType::BF16), v.to(DType::BF16), true);
  EXPECT_EQ(yb.dtype(), DType::BF16);
  EXPECT_LT(norm_rel_error(yb, ops::scaled_dot_product_attention(q, k, v, true)), kBf16NormTolerance);
}

TEST(Attention, QueriesThatSeeNoKeyGiveZeros) {
  // S < T under the causal rule: query t sees keys s <= t - 2, so the first two rows see none.
  Generator gen(37);
  auto q = random_param({1, 1, 4, 2}, gen), k = random_param({1, 1, 2, 2}, gen), v = random_param({1, 1, 2, 2}, gen);
  Tensor y = ops::scaled_dot_product_attention(q, k, v, true);
  auto yv = y.to_f32_vector();
  for (int i = 0; i < 4; ++i) EXPECT_EQ(yv[size_t(i)], 0.0f);
  // Rows 2 and 3 see keys s <= t - 2: the same as a 2-query call whose causal offset is 0.
  std::vector<double> want = reference_attention(q.slice(2, 2, 4), k, v, true, 1.0 / std::sqrt(2.0));
  want.insert(want.begin(), 4, 0.0);
  expect_close(y, want, kF32Tolerance);
  EXPECT_TRUE(gradcheck(
      [](const std::vector<Tensor>& a) { return ops::scaled_dot_product_attention(a[0], a[1], a[2], true); },
      {q, k, v}));
}

TEST(Attention, BadArgumentsNameTheOp) {
  Tensor q = Tensor::zeros({1, 3, 4, 6}), kv2 = Tensor::zeros({1, 2, 4, 6});
  expect_op_error([&] { ops::scaled_dot_product_attention(q, kv2, kv2); }, "[attention]");
  expect_op_error([&] { ops::scaled_dot_product_attention(q, kv2, kv2); }, "Hq = 3");
  Tensor k = Tensor::zeros({1, 3, 4, 6});
  expect_op_error([&] { ops::scaled_dot_product_attention(q, k, Tensor::zeros({1, 3, 5, 6})); }, "[attention]");
  expect_op_error([&] { ops::scaled_dot_product_attention(q, Tensor::zeros({1, 3, 4, 5}), Tensor::zeros({1, 3, 4, 5})); },
                  "[1, 3, 4, 5]");
  expect_op_error([&] { ops::scaled_dot_product_attention(q, Tensor::zeros({2, 3, 4, 6}), Tensor::zeros({2, 3, 4, 6})); },
                  "[attention]");
  expect_op_error([&] { ops::scaled_dot_product_attention(Tensor::zeros({3, 4, 6}), k, k); }, "[attention]");
}

}  // namespace
}  // namespace anvil
