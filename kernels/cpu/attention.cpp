// Attention CPU kernels. Every inner loop runs over the head dim D on contiguous rows (dot products
// and axpys that vectorize with `omp simd`).
//
// Forward, per query row t (parallel over all B * Hq * T rows):
//   for each block of kKeyBlock keys: scores = scale * q.k; if the block max exceeds the running max
//   m, rescale the running sum l and the output row by exp(m_old - m_new); then l += exp(score - m)
//   and out += exp(score - m) * v. Finally out /= l and lse = m + log(l).
// Backward, per (batch, query head) (parallel over B * Hq), with Di = dO_t . O_t:
//   p = exp(scale * q_t.k_s - lse_t), dp = dO_t . v_s, ds = p * (dp - Di)
//   dq_t += scale * ds * k_s,  dk_s += scale * ds * q_t,  dv_s += p * dO_t
#include "kernels/cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace anvil::kernels::cpu {

namespace {

// Keys scored per block of the online softmax; the block's scores live on the stack.
constexpr int64_t kKeyBlock = 64;
// Query rows handed to a thread at a time: consecutive rows share the same K and V in cache.
constexpr int64_t kRowChunk = 8;
// Below this many multiply-adds a call runs single-threaded.
constexpr int64_t kParallelMinWork = 32768;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

inline float dot(const float* a, const float* b, int64_t n) {
  float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
  for (int64_t i = 0; i < n; ++i) acc += a[i] * b[i];
  return acc;
}

inline void axpy(float* y, float alpha, const float* x, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

inline void scale_row(float* y, float alpha, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] *= alpha;
}

// Number of keys query t may attend to.
inline int64_t visible_keys(bool causal, int64_t t, int64_t T, int64_t S) {
  return causal ? std::clamp<int64_t>(t + (S - T) + 1, 0, S) : S;
}

}  // namespace

void attention_forward_f32(const float* q, const float* k, const float* v, int64_t B, int64_t Hq, int64_t Hkv,
                           int64_t T, int64_t S, int64_t D, bool causal, float scale, float* out, float* lse) {
  const int64_t group = Hq / Hkv;
  const int64_t rows = B * Hq * T;
#pragma omp parallel for schedule(dynamic, kRowChunk) if (rows * S * D > kParallelMinWork)
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t t = row % T, bh = row / T, h = bh % Hq, b = bh / Hq;
    const int64_t kv_offset = (b * Hkv + h / group) * S * D;
    const float* qr = q + row * D;      // (D)
    const float* kh = k + kv_offset;    // (S, D)
    const float* vh = v + kv_offset;    // (S, D)
    float* o = out + row * D;           // (D)
    std::fill(o, o + D, 0.0f);
    const int64_t n_keys = visible_keys(causal, t, T, S);
    float running_max = kNegInf, running_sum = 0.0f;
    for (int64_t s0 = 0; s0 < n_keys; s0 += kKeyBlock) {
      const int64_t s1 = std::min(n_keys, s0 + kKeyBlock);
      float scores[kKeyBlock];
      float block_max = kNegInf;
      for (int64_t s = s0; s < s1; ++s) {
        const float sc = scale * dot(qr, kh + s * D, D);
        scores[s - s0] = sc;
        block_max = std::max(block_max, sc);
      }
      if (block_max > running_max) {
        if (running_max != kNegInf) {
          const float correction = std::exp(running_max - block_max);
          running_sum *= correction;
          scale_row(o, correction, D);
        }
        running_max = block_max;
      }
      for (int64_t s = s0; s < s1; ++s) {
        const float p = std::exp(scores[s - s0] - running_max);
        running_sum += p;
        axpy(o, p, vh + s * D, D);
      }
    }
    if (n_keys > 0) {
      scale_row(o, 1.0f / running_sum, D);
      lse[row] = running_max + std::log(running_sum);
    } else {
      lse[row] = kNegInf;
    }
  }
}

void attention_backward_f32(const float* q, const float* k, const float* v, const float* out, const float* grad_out,
                            const float* lse, int64_t B, int64_t Hq, int64_t Hkv, int64_t T, int64_t S, int64_t D,
                            bool causal, float scale, float* dq, float* dk_per_qhead, float* dv_per_qhead) {
  const int64_t group = Hq / Hkv;
  const int64_t heads = B * Hq;
#pragma omp parallel for schedule(dynamic, 1) if (heads * T * S * D > kParallelMinWork)
  for (int64_t bh = 0; bh < heads; ++bh) {
    const int64_t h = bh % Hq, b = bh / Hq;
    const int64_t kv_offset = (b * Hkv + h / group) * S * D;
    const float* kh = k + kv_offset;                 // (S, D)
    const float* vh = v + kv_offset;                 // (S, D)
    float* dkh = dk_per_qhead + bh * S * D;          // (S, D)
    float* dvh = dv_per_qhead + bh * S * D;          // (S, D)
    std::fill(dkh, dkh + S * D, 0.0f);
    std::fill(dvh, dvh + S * D, 0.0f);
    for (int64_t t = 0; t < T; ++t) {
      const int64_t row = bh * T + t;
      const float* qr = q + row * D;          // (D)
      const float* dor = grad_out + row * D;  // (D)
      float* dqr = dq + row * D;              // (D)
      std::fill(dqr, dqr + D, 0.0f);
      const int64_t n_keys = visible_keys(causal, t, T, S);
      if (n_keys == 0) continue;
      const float row_lse = lse[row];
      const float di = dot(dor, out + row * D, D);
      for (int64_t s = 0; s < n_keys; ++s) {
        const float p = std::exp(scale * dot(qr, kh + s * D, D) - row_lse);
        const float dp = dot(dor, vh + s * D, D);
        const float ds_scaled = scale * p * (dp - di);
        axpy(dvh + s * D, p, dor, D);
        axpy(dkh + s * D, ds_scaled, qr, D);
        axpy(dqr, ds_scaled, kh + s * D, D);
      }
    }
  }
}

}  // namespace anvil::kernels::cpu
