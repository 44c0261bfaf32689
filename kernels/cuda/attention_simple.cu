// The simple f32 attention path (see attention.h): what runs on CUDA when the flash kernels
// cannot (f32 tensors, head dims other than 64/128, a KV cache longer than the queries).
//
// Math, per query row t of head h (kv head h / group), visible keys s < limit(t) with
// limit(t) = min(S, t + S - T + 1) when causal, S otherwise:
//   forward  online softmax: m, l, acc rescaled per key; out = acc / l, lse = m + log l.
//   backward p_ts = exp(scale q_t.k_s - lse_t), delta_t = dout_t.out_t, ds_ts = p_ts (dout_t.v_s - delta_t),
//            dq_t = scale sum_s ds_ts k_s;  dv_s = sum_t p_ts dout_t;  dk_s = scale sum_t ds_ts q_t.
// One thread per query row (forward, dq) or per key row (dk, dv per query head), each summing
// in a fixed order: deterministic, no atomics. Row vectors live in per-thread arrays of
// kSimpleAttentionMaxHeadDim floats (local memory). Speed: not measured (no GPU lent); this path
// is for correctness and small models, the flash kernels are the fast path.
#include "kernels/cuda/attention.h"
#include "kernels/cuda/common.cuh"

namespace anvil::kernels::cuda {

namespace {
constexpr int kThreads = 128;
constexpr int kMaxD = int(kSimpleAttentionMaxHeadDim);

struct Dims {
  int64_t B, Hq, Hkv, T, S, D;
  bool causal;
  float scale;
};

__device__ __forceinline__ int64_t visible_keys(const Dims& d, int64_t t) {
  if (!d.causal) return d.S;
  const int64_t lim = t + d.S - d.T + 1;  // <= 0 when S < T leaves a row with no key: zero output
  return lim < d.S ? (lim > 0 ? lim : 0) : d.S;
}

__device__ __forceinline__ float dot(const float* a, const float* b, int64_t D) {
  float acc = 0.0f;
  for (int64_t i = 0; i < D; ++i) acc += a[i] * b[i];
  return acc;
}

__global__ void forward_kernel(Dims d, const float* q, const float* k, const float* v, float* out, float* lse) {
  const int64_t rows = d.B * d.Hq * d.T;
  for (int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; r < rows; r += int64_t(gridDim.x) * blockDim.x) {
    const int64_t t = r % d.T, bh = r / d.T, h = bh % d.Hq, b = bh / d.Hq;
    const int64_t hk = h / (d.Hq / d.Hkv);
    const float* qr = q + r * d.D;
    const float* kb = k + (b * d.Hkv + hk) * d.S * d.D;
    const float* vb = v + (b * d.Hkv + hk) * d.S * d.D;
    float acc[kMaxD];
    for (int64_t i = 0; i < d.D; ++i) acc[i] = 0.0f;
    float m = -INFINITY, l = 0.0f;
    const int64_t limit = visible_keys(d, t);
    for (int64_t s = 0; s < limit; ++s) {
      const float score = dot(qr, kb + s * d.D, d.D) * d.scale;
      const float m_new = fmaxf(m, score);
      const float corr = expf(m - m_new);
      const float p = expf(score - m_new);
      l = l * corr + p;
      const float* vr = vb + s * d.D;
      for (int64_t i = 0; i < d.D; ++i) acc[i] = acc[i] * corr + p * vr[i];
      m = m_new;
    }
    float* o = out + r * d.D;
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;
    for (int64_t i = 0; i < d.D; ++i) o[i] = acc[i] * inv;
    lse[r] = l > 0.0f ? m + logf(l) : -INFINITY;
  }
}

// delta_t = dout_t . out_t, then dq_t.
__global__ void dq_kernel(Dims d, const float* q, const float* k, const float* v, const float* out,
                          const float* dout, const float* lse, float* delta, float* dq) {
  const int64_t rows = d.B * d.Hq * d.T;
  for (int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; r < rows; r += int64_t(gridDim.x) * blockDim.x) {
    const int64_t t = r % d.T, bh = r / d.T, h = bh % d.Hq, b = bh / d.Hq;
    const int64_t hk = h / (d.Hq / d.Hkv);
    const float* qr = q + r * d.D;
    const float* gr = dout + r * d.D;
    const float* kb = k + (b * d.Hkv + hk) * d.S * d.D;
    const float* vb = v + (b * d.Hkv + hk) * d.S * d.D;
    const float dl = dot(gr, out + r * d.D, d.D);
    delta[r] = dl;
    float acc[kMaxD];
    for (int64_t i = 0; i < d.D; ++i) acc[i] = 0.0f;
    const float row_lse = lse[r];
    const int64_t limit = visible_keys(d, t);
    for (int64_t s = 0; s < limit; ++s) {
      const float* kr = kb + s * d.D;
      const float p = expf(dot(qr, kr, d.D) * d.scale - row_lse);
      const float ds = p * (dot(gr, vb + s * d.D, d.D) - dl);
      for (int64_t i = 0; i < d.D; ++i) acc[i] += ds * kr[i];
    }
    float* o = dq + r * d.D;
    for (int64_t i = 0; i < d.D; ++i) o[i] = acc[i] * d.scale;
  }
}

// dk, dv of key row s for query head h: written into (B, Hq, S, D) per-query-head buffers.
__global__ void dkdv_kernel(Dims d, const float* q, const float* k, const float* v, const float* dout,
                            const float* lse, const float* delta, float* dk, float* dv) {
  const int64_t rows = d.B * d.Hq * d.S;
  for (int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; r < rows; r += int64_t(gridDim.x) * blockDim.x) {
    const int64_t s = r % d.S, bh = r / d.S, h = bh % d.Hq, b = bh / d.Hq;
    const int64_t hk = h / (d.Hq / d.Hkv);
    const float* kr = k + ((b * d.Hkv + hk) * d.S + s) * d.D;
    const float* vr = v + ((b * d.Hkv + hk) * d.S + s) * d.D;
    float acc_k[kMaxD], acc_v[kMaxD];
    for (int64_t i = 0; i < d.D; ++i) acc_k[i] = acc_v[i] = 0.0f;
    // Query t sees key s iff s < visible_keys(t), i.e. t >= s - (S - T) when causal.
    int64_t t0 = 0;
    if (d.causal) {
      t0 = s - (d.S - d.T);
      if (t0 < 0) t0 = 0;
    }
    for (int64_t t = t0; t < d.T; ++t) {
      const int64_t qrow = bh * d.T + t;
      const float* qr = q + qrow * d.D;
      const float* gr = dout + qrow * d.D;
      const float p = expf(dot(qr, kr, d.D) * d.scale - lse[qrow]);
      const float ds = p * (dot(gr, vr, d.D) - delta[qrow]);
      for (int64_t i = 0; i < d.D; ++i) {
        acc_v[i] += p * gr[i];
        acc_k[i] += ds * qr[i];
      }
    }
    float* ok = dk + r * d.D;
    float* ov = dv + r * d.D;
    for (int64_t i = 0; i < d.D; ++i) {
      ok[i] = acc_k[i] * d.scale;
      ov[i] = acc_v[i];
    }
  }
}

Dims make_dims(const SimpleAttentionArgs& a) {
  ANVIL_CHECK_OP(a.batch >= 0 && a.num_heads >= 0 && a.q_len >= 0 && a.kv_len >= 0,
                 "[attention] negative sizes in the simple CUDA path");
  ANVIL_CHECK_OP(a.num_kv_heads > 0 && a.num_heads % a.num_kv_heads == 0, "[attention] Hq = ", a.num_heads,
                 " is not a multiple of Hkv = ", a.num_kv_heads);
  ANVIL_CHECK_OP(a.head_dim > 0 && a.head_dim <= kSimpleAttentionMaxHeadDim, "[attention] head dim ", a.head_dim,
                 " outside 1..", kSimpleAttentionMaxHeadDim, " for the simple CUDA path");
  ANVIL_CHECK_OP(a.scale > 0.0f, "[attention] scale must be resolved (> 0) before the simple CUDA path");
  return Dims{a.batch, a.num_heads, a.num_kv_heads, a.q_len, a.kv_len, a.head_dim, a.causal, a.scale};
}
}  // namespace

void attention_simple_forward_f32(const SimpleAttentionArgs& a) {
  const Dims d = make_dims(a);
  const int64_t rows = d.B * d.Hq * d.T;
  if (rows == 0) return;
  ANVIL_LAUNCH(forward_kernel, grid_for(rows, kThreads), kThreads, 0, resolve_stream(a.stream), d, a.q, a.k, a.v,
               a.out, a.lse);
}

void attention_simple_backward_f32(const SimpleAttentionArgs& a) {
  const Dims d = make_dims(a);
  cudaStream_t s = resolve_stream(a.stream);
  const int64_t qrows = d.B * d.Hq * d.T, krows = d.B * d.Hq * d.S;
  if (qrows > 0)
    ANVIL_LAUNCH(dq_kernel, grid_for(qrows, kThreads), kThreads, 0, s, d, a.q, a.k, a.v, a.out, a.dout, a.lse,
                 a.delta, a.dq);
  if (krows > 0)
    ANVIL_LAUNCH(dkdv_kernel, grid_for(krows, kThreads), kThreads, 0, s, d, a.q, a.k, a.v, a.dout, a.lse, a.delta,
                 a.dk_per_qhead, a.dv_per_qhead);
}

}  // namespace anvil::kernels::cuda
