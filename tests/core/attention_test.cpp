// scaled_dot_product_attention: grouped-query attention against the same computation with k/v heads
// repeated, among the rest. Finite-difference gradchecks on odd shapes, forwards against
// double-precision textbook formulas computed here, strided views against contiguous copies, bf16
// against f32, and argument errors naming the op.
//
// gradcheck-covers: attention
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "tests/support/gradcheck.h"
#include "tests/support/op_checks.h"

namespace anvil {
namespace {

using test::gradcheck;
using test::max_rel_error;
using test::norm_rel_error;
using test::random_param;
using test::random_tensor;
using test::as_doubles;
using test::expect_close;
using test::expect_op_error;
using test::kBf16NormTolerance;
using test::kF32Tolerance;

// Explicit scores (T, S) per head, mask, softmax, weighted sum of values; kv head h / (Hq / Hkv).
std::vector<double> reference_attention(const Tensor& q, const Tensor& k, const Tensor& v, bool causal, double scale) {
  const int64_t B = q.size(0), Hq = q.size(1), T = q.size(2), D = q.size(3), Hkv = k.size(1), S = k.size(2);
  auto qv = as_doubles(q), kv = as_doubles(k), vv = as_doubles(v);
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
  expect_op_error([&] { ops::scaled_dot_product_attention(q, kv2, kv2); }, {"[attention]"});
  expect_op_error([&] { ops::scaled_dot_product_attention(q, kv2, kv2); }, {"Hq = 3"});
  Tensor k = Tensor::zeros({1, 3, 4, 6});
  expect_op_error([&] { ops::scaled_dot_product_attention(q, k, Tensor::zeros({1, 3, 5, 6})); }, {"[attention]"});
  expect_op_error([&] { ops::scaled_dot_product_attention(q, Tensor::zeros({1, 3, 4, 5}), Tensor::zeros({1, 3, 4, 5})); },
                  {"[1, 3, 4, 5]"});
  expect_op_error([&] { ops::scaled_dot_product_attention(q, Tensor::zeros({2, 3, 4, 6}), Tensor::zeros({2, 3, 4, 6})); },
                  {"[attention]"});
  expect_op_error([&] { ops::scaled_dot_product_attention(Tensor::zeros({3, 4, 6}), k, k); }, {"[attention]"});
}

}  // namespace
}  // namespace anvil
