// CUDA flash attention against a naive double-precision attention (full T x T scores) on bf16
// inputs: causal and full, head_dim 64 and 128, grouped-query heads, odd sequence lengths;
// forward output, log-sum-exp, and dq/dk/dv; plus q/k/v read as slices of one fused projection.
// The simple f32 path (GQA, causal with S > T and S < T, full) against the CPU kernels.
#include <cmath>

#include "kernels/cpu/attention.h"
#include "kernels/cuda/attention.h"
#include "tests/kernels/gpu_test_util.h"

namespace anvil {
namespace {

namespace cuda = kernels::cuda;
using gputest::all_close;
using gputest::DeviceTensor;
using gputest::random_normal;
using gputest::round_to;

struct Case {
  int64_t B, T, H, Hkv, D;
  bool causal;
};

struct Reference {
  std::vector<double> out, lse, dq, dk, dv;
};

// q, out, dout (B, T, H, D); k, v (B, T, Hkv, D); lse (B, H, T).
Reference naive_attention(const Case& c, const std::vector<float>& q, const std::vector<float>& k,
                          const std::vector<float>& v, const std::vector<float>& dout) {
  const int64_t B = c.B, T = c.T, H = c.H, Hkv = c.Hkv, D = c.D, group = H / Hkv;
  const double scale = 1.0 / std::sqrt(double(D));
  Reference r;
  r.out.assign(B * T * H * D, 0.0);
  r.dq.assign(B * T * H * D, 0.0);
  r.dk.assign(B * T * Hkv * D, 0.0);
  r.dv.assign(B * T * Hkv * D, 0.0);
  r.lse.assign(B * H * T, 0.0);
  auto qi = [&](int64_t b, int64_t t, int64_t h) { return ((b * T + t) * H + h) * D; };
  auto ki = [&](int64_t b, int64_t t, int64_t h) { return ((b * T + t) * Hkv + h) * D; };
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t h = 0; h < H; ++h) {
      const int64_t kvh = h / group;
      for (int64_t i = 0; i < T; ++i) {
        const int64_t keys = c.causal ? i + 1 : T;
        std::vector<double> s(keys), p(keys), dp(keys);
        double m = -INFINITY;
        for (int64_t j = 0; j < keys; ++j) {
          double dot = 0;
          for (int64_t d = 0; d < D; ++d) dot += double(q[qi(b, i, h) + d]) * k[ki(b, j, kvh) + d];
          s[j] = dot * scale;
          m = std::max(m, s[j]);
        }
        double sum = 0;
        for (int64_t j = 0; j < keys; ++j) sum += std::exp(s[j] - m);
        const double lse = m + std::log(sum);
        r.lse[(b * H + h) * T + i] = lse;
        double delta = 0;
        for (int64_t j = 0; j < keys; ++j) {
          p[j] = std::exp(s[j] - lse);
          double dot = 0;
          for (int64_t d = 0; d < D; ++d) {
            r.out[qi(b, i, h) + d] += p[j] * v[ki(b, j, kvh) + d];
            dot += double(dout[qi(b, i, h) + d]) * v[ki(b, j, kvh) + d];
          }
          dp[j] = dot;
          delta += p[j] * dot;
        }
        for (int64_t j = 0; j < keys; ++j) {
          const double ds = p[j] * (dp[j] - delta);
          for (int64_t d = 0; d < D; ++d) {
            r.dq[qi(b, i, h) + d] += scale * ds * k[ki(b, j, kvh) + d];
            r.dk[ki(b, j, kvh) + d] += scale * ds * q[qi(b, i, h) + d];
            r.dv[ki(b, j, kvh) + d] += p[j] * dout[qi(b, i, h) + d];
          }
        }
      }
    }
  }
  return r;
}

cuda::AttentionInput contiguous_in(const DeviceTensor& t, const Case& c, int64_t heads) {
  return {t.data(), c.T * heads * c.D, heads * c.D, c.D};
}
cuda::AttentionOutput contiguous_out(const DeviceTensor& t, const Case& c, int64_t heads) {
  return {t.data(), c.T * heads * c.D, heads * c.D, c.D};
}

void check_case(const Case& c, uint64_t seed) {
  const DType t = DType::BF16;
  auto q = round_to(random_normal(c.B * c.T * c.H * c.D, seed), t);
  auto k = round_to(random_normal(c.B * c.T * c.Hkv * c.D, seed + 1), t);
  auto v = round_to(random_normal(c.B * c.T * c.Hkv * c.D, seed + 2), t);
  auto dout = round_to(random_normal(c.B * c.T * c.H * c.D, seed + 3), t);
  const Reference want = naive_attention(c, q, k, v, dout);

  DeviceTensor dq_in(q, t), dk_in(k, t), dv_in(v, t), ddout(dout, t);
  DeviceTensor out(c.B * c.T * c.H * c.D, t), lse(c.B * c.H * c.T, DType::F32), delta(c.B * c.H * c.T, DType::F32);
  DeviceTensor dq(c.B * c.T * c.H * c.D, t), dk(c.B * c.T * c.Hkv * c.D, t), dv(c.B * c.T * c.Hkv * c.D, t);
  cuda::AttentionArgs a;
  a.batch = c.B;
  a.seq_len = c.T;
  a.num_heads = c.H;
  a.num_kv_heads = c.Hkv;
  a.head_dim = c.D;
  a.dtype = t;
  a.causal = c.causal;
  a.q = contiguous_in(dq_in, c, c.H);
  a.k = contiguous_in(dk_in, c, c.Hkv);
  a.v = contiguous_in(dv_in, c, c.Hkv);
  a.out = contiguous_out(out, c, c.H);
  a.lse = lse.buf.as<float>();
  a.dout = contiguous_in(ddout, c, c.H);
  a.dq = contiguous_out(dq, c, c.H);
  a.dk = contiguous_out(dk, c, c.Hkv);
  a.dv = contiguous_out(dv, c, c.Hkv);
  a.delta = delta.buf.as<float>();
  cuda::attention_forward(a);
  cuda::attention_backward(a);

  const std::string what = "B=" + std::to_string(c.B) + " T=" + std::to_string(c.T) + " H=" + std::to_string(c.H) +
                           " Hkv=" + std::to_string(c.Hkv) + " D=" + std::to_string(c.D) +
                           (c.causal ? " causal" : " full");
  const auto tol = gputest::tolerance_for(t);
  EXPECT_TRUE(all_close(out.read(), want.out, tol, "out " + what));
  EXPECT_TRUE(all_close(lse.read(), want.lse, {1e-4, 1e-5}, "lse " + what));
  EXPECT_TRUE(all_close(dq.read(), want.dq, tol, "dq " + what));
  EXPECT_TRUE(all_close(dk.read(), want.dk, tol, "dk " + what));
  EXPECT_TRUE(all_close(dv.read(), want.dv, tol, "dv " + what));
}

TEST(AttentionGpu, CausalGroupedQueryHeadDim64) {
  ANVIL_SKIP_WITHOUT_GPU();
  check_case({2, 37, 4, 2, 64, true}, 1);
}
TEST(AttentionGpu, CausalHeadDim128LongerThanTwoTiles) {
  ANVIL_SKIP_WITHOUT_GPU();
  check_case({1, 70, 2, 2, 128, true}, 2);
}
TEST(AttentionGpu, FullAttentionMultiQuery) {
  ANVIL_SKIP_WITHOUT_GPU();
  check_case({1, 33, 3, 1, 64, false}, 3);
  check_case({2, 5, 2, 1, 128, false}, 4);
}

TEST(AttentionGpu, ReadsSlicesOfAFusedProjection) {
  ANVIL_SKIP_WITHOUT_GPU();
  const Case c{2, 41, 4, 2, 64, true};
  const DType t = DType::BF16;
  const int64_t width = (c.H + 2 * c.Hkv) * c.D;  // (B, T, [q | k | v])
  auto fused = round_to(random_normal(c.B * c.T * width, 9), t);
  std::vector<float> q(c.B * c.T * c.H * c.D), k(c.B * c.T * c.Hkv * c.D), v(k.size());
  for (int64_t bt = 0; bt < c.B * c.T; ++bt) {
    for (int64_t e = 0; e < c.H * c.D; ++e) q[bt * c.H * c.D + e] = fused[bt * width + e];
    for (int64_t e = 0; e < c.Hkv * c.D; ++e) {
      k[bt * c.Hkv * c.D + e] = fused[bt * width + c.H * c.D + e];
      v[bt * c.Hkv * c.D + e] = fused[bt * width + (c.H + c.Hkv) * c.D + e];
    }
  }
  const auto want = naive_attention(c, q, k, v, std::vector<float>(q.size(), 0.0f));
  DeviceTensor dfused(fused, t), out(q.size(), t), lse(c.B * c.H * c.T, DType::F32);
  auto* base = static_cast<const uint16_t*>(dfused.data());
  cuda::AttentionArgs a;
  a.batch = c.B;
  a.seq_len = c.T;
  a.num_heads = c.H;
  a.num_kv_heads = c.Hkv;
  a.head_dim = c.D;
  a.dtype = t;
  a.q = {base, c.T * width, width, c.D};
  a.k = {base + c.H * c.D, c.T * width, width, c.D};
  a.v = {base + (c.H + c.Hkv) * c.D, c.T * width, width, c.D};
  a.out = contiguous_out(out, c, c.H);
  a.lse = lse.buf.as<float>();
  cuda::attention_forward(a);
  EXPECT_TRUE(all_close(out.read(), want.out, gputest::tolerance_for(t), "fused-projection out"));
  EXPECT_TRUE(all_close(lse.read(), want.lse, {1e-4, 1e-5}, "fused-projection lse"));
}

constexpr gputest::Tolerance kF32 = {1e-5, 1e-5};

// (B, H, S, D) -> (B, H, D, S), as the CPU attention kernel wants its keys.
std::vector<float> transpose_last(const std::vector<float>& x, int64_t BH, int64_t S, int64_t D) {
  std::vector<float> t(x.size());
  for (int64_t b = 0; b < BH; ++b)
    for (int64_t s = 0; s < S; ++s)
      for (int64_t d = 0; d < D; ++d) t[size_t((b * D + d) * S + s)] = x[size_t((b * S + s) * D + d)];
  return t;
}

TEST(AttentionGpu, SimpleAttentionMatchesTheCpuKernels) {
  ANVIL_SKIP_WITHOUT_GPU();
  struct Case {
    int64_t B, Hq, Hkv, T, S, D;
    bool causal;
  };
  for (Case c : {Case{2, 4, 2, 17, 17, 12, true}, Case{1, 3, 1, 5, 21, 64, true}, Case{1, 2, 2, 9, 4, 8, true},
                 Case{2, 2, 1, 7, 11, 33, false}}) {
    SCOPED_TRACE("T=" + std::to_string(c.T) + " S=" + std::to_string(c.S) + " D=" + std::to_string(c.D));
    const float scale = 1.0f / std::sqrt(float(c.D));
    const int64_t nq = c.B * c.Hq * c.T * c.D, nk = c.B * c.Hkv * c.S * c.D, nkq = c.B * c.Hq * c.S * c.D;
    const auto q = random_normal(nq, 1), k = random_normal(nk, 2), v = random_normal(nk, 3), g = random_normal(nq, 4);
    const auto k_t = transpose_last(k, c.B * c.Hkv, c.S, c.D), v_t = transpose_last(v, c.B * c.Hkv, c.S, c.D);
    std::vector<float> out(static_cast<size_t>(nq)), lse(static_cast<size_t>(c.B * c.Hq * c.T)),
        dq(static_cast<size_t>(nq)), dk(static_cast<size_t>(nkq)), dv(static_cast<size_t>(nkq));
    kernels::cpu::attention_forward_f32(q.data(), k_t.data(), v.data(), c.B, c.Hq, c.Hkv, c.T, c.S, c.D, c.causal,
                                        scale, out.data(), lse.data());
    kernels::cpu::attention_backward_f32(q.data(), k.data(), k_t.data(), v_t.data(), out.data(), g.data(), lse.data(),
                                         c.B, c.Hq, c.Hkv, c.T, c.S, c.D, c.causal, scale, dq.data(), dk.data(),
                                         dv.data());
    DeviceTensor dq_in(q, DType::F32), dk_in(k, DType::F32), dv_in(v, DType::F32), dg(g, DType::F32);
    DeviceTensor dout(nq, DType::F32), dlse(int64_t(lse.size()), DType::F32), ddelta(int64_t(lse.size()), DType::F32);
    DeviceTensor ddq(nq, DType::F32), ddk(nkq, DType::F32), ddv(nkq, DType::F32);
    cuda::SimpleAttentionArgs a;
    a.batch = c.B;
    a.num_heads = c.Hq;
    a.num_kv_heads = c.Hkv;
    a.q_len = c.T;
    a.kv_len = c.S;
    a.head_dim = c.D;
    a.causal = c.causal;
    a.scale = scale;
    a.q = static_cast<const float*>(dq_in.data());
    a.k = static_cast<const float*>(dk_in.data());
    a.v = static_cast<const float*>(dv_in.data());
    a.out = static_cast<float*>(dout.data());
    a.lse = static_cast<float*>(dlse.data());
    cuda::attention_simple_forward_f32(a);
    a.dout = static_cast<const float*>(dg.data());
    a.dq = static_cast<float*>(ddq.data());
    a.dk_per_qhead = static_cast<float*>(ddk.data());
    a.dv_per_qhead = static_cast<float*>(ddv.data());
    a.delta = static_cast<float*>(ddelta.data());
    cuda::attention_simple_backward_f32(a);
    EXPECT_TRUE(all_close(dout.read(), out, kF32, "out"));
    // Rows that see no key (S < T) have lse = -inf on both sides; compare the finite ones.
    auto got_lse = dlse.read();
    for (size_t i = 0; i < lse.size(); ++i) {
      if (std::isinf(lse[i])) {
        EXPECT_TRUE(std::isinf(got_lse[i]) && got_lse[i] < 0) << "lse row " << i;
        got_lse[i] = lse[i] = 0.0f;
      }
    }
    EXPECT_TRUE(all_close(got_lse, lse, kF32, "lse"));
    EXPECT_TRUE(all_close(ddq.read(), dq, kF32, "dq"));
    EXPECT_TRUE(all_close(ddk.read(), dk, kF32, "dk per query head"));
    EXPECT_TRUE(all_close(ddv.read(), dv, kF32, "dv per query head"));
  }
}

}  // namespace
}  // namespace anvil
