// Attention CPU kernels, tiled so every inner loop is a contiguous, vectorizable axpy (no
// horizontal dot-product reductions): scores of a tile of kQueryTile query rows against a block of
// kKeyBlock keys are accumulated over d from the transposed keys k_t (D, S), whose rows are
// contiguous in s; the probability-weighted sums of values (and in the backward the dq, dk, dv
// updates) run over d on contiguous rows of v, k, q and dO. The exponential is a polynomial that
// vectorizes (see exp_nonpositive). Measured single-threaded on the shared 2-core dev box
// (AVX-512, loaded, best of 5), 4 heads of T = S = 256, D = 64, non-causal: forward ~28 GFLOP/s,
// forward+backward through autograd ~18-22 GFLOP/s; ops::matmul 256^3 gets ~40 (2026-11-23).
// The first version (one dot product per query-key pair) got 8 forward, 6 forward+backward.
//
// Forward, per tile of query rows (parallel over all B * Hq * tiles):
//   for each key block: scores = scale * q.k; per row, if the block max m_new exceeds the running
//   max m, rescale the running sum l and the output row by exp(m - m_new); then p = exp(score - m),
//   l += sum(p), out += p @ v_block. Finally out /= l and lse = m + log(l).
// Backward, per (batch, query head) (parallel over B * Hq, which owns its dk/dv slice), with
// Di = dO_t . O_t:  p = exp(scale q_t.k_s - lse_t), dp = dO_t . v_s, ds = scale p (dp - Di),
//   dq_t += ds k_s,  dk_s += ds q_t,  dv_s += p dO_t.
#include "kernels/cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace anvil::kernels::cpu {

namespace {

constexpr int64_t kQueryTile = 4;  // query rows sharing each loaded key/value row
constexpr int64_t kKeyBlock = 64;  // keys per block of the online softmax (a stack tile)
// Below this many multiply-adds (~100 us) a call runs single-threaded: waking the team costs more.
constexpr int64_t kParallelMinWork = int64_t(1) << 20;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// e^x for x <= 0 (softmax arguments), as 2^n * e^r with n = round(x / ln 2), |r| <= ln2 / 2, and
// e^r by its degree-7 Taylor polynomial (truncation < 6e-9 relative, below f32 rounding). ln 2 is
// split in two so n * ln2_hi is exact. Below 2^-126 the result is 0. Branch-free (the underflow
// test is an integer select), so `omp simd` loops calling it vectorize; a float clamp would not,
// since GCC will not if-convert a float compare that may trap. Slightly positive x (rounding in
// the backward) stays accurate to ~1e-6.
inline float exp_nonpositive(float x) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693359375f;
  constexpr float kLn2Lo = -2.12194440e-4f;
  constexpr int32_t kMinNormalExponent = -126;
  constexpr int32_t kExponentBias = 127;
  constexpr int kMantissaBits = 23;
  // For y <= 0, truncating y - 0.5 toward zero rounds y to a nearest integer (|y - n| <= 1/2).
  const int32_t n_int = int32_t(x * kLog2e - 0.5f);
  const float n = float(n_int);
  const float r = (x - n * kLn2Hi) - n * kLn2Lo;
  float poly = 1.0f / 5040.0f;
  poly = poly * r + 1.0f / 720.0f;
  poly = poly * r + 1.0f / 120.0f;
  poly = poly * r + 1.0f / 24.0f;
  poly = poly * r + 1.0f / 6.0f;
  poly = poly * r + 0.5f;
  poly = poly * r + 1.0f;
  poly = poly * r + 1.0f;
  const int32_t two_n_bits = n_int < kMinNormalExponent ? 0 : (n_int + kExponentBias) << kMantissaBits;
  return poly * __builtin_bit_cast(float, two_n_bits);
}

inline float dot(const float* a, const float* b, int64_t n) {
  float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
  for (int64_t i = 0; i < n; ++i) acc += a[i] * b[i];
  return acc;
}

// Number of keys query t may attend to.
inline int64_t visible_keys(bool causal, int64_t t, int64_t T, int64_t S) {
  return causal ? std::clamp<int64_t>(t + (S - T) + 1, 0, S) : S;
}

// tile[r][j] = alpha * sum_d rows[r][d] * cols_t[d][j] for r < nr, j < nb: rows (nr, D) row-major,
// cols_t (D, .) with row stride ld (a block of transposed keys or values).
inline void tile_scores(const float* rows, int64_t nr, const float* cols_t, int64_t ld, int64_t nb, int64_t D,
                        float alpha, float (*tile)[kKeyBlock]) {
  for (int64_t r = 0; r < nr; ++r) {
    float* out = tile[r];
    std::fill(out, out + nb, 0.0f);
    for (int64_t d = 0; d < D; ++d) {
      const float a = alpha * rows[r * D + d];
      const float* c = cols_t + d * ld;
#pragma omp simd
      for (int64_t j = 0; j < nb; ++j) out[j] += a * c[j];
    }
  }
}

}  // namespace

void attention_forward_f32(const float* q, const float* k_t, const float* v, int64_t B, int64_t Hq, int64_t Hkv,
                           int64_t T, int64_t S, int64_t D, bool causal, float scale, float* out, float* lse) {
  const int64_t group = Hq / Hkv;
  const int64_t tiles = (T + kQueryTile - 1) / kQueryTile;
  const int64_t items = B * Hq * tiles;
#pragma omp parallel for schedule(dynamic, 1) if (B * Hq * T * S * D > kParallelMinWork)
  for (int64_t item = 0; item < items; ++item) {
    const int64_t tile = item % tiles, bh = item / tiles, h = bh % Hq, b = bh / Hq;
    const int64_t t0 = tile * kQueryTile, nr = std::min(kQueryTile, T - t0);
    const int64_t kv_head = b * Hkv + h / group;
    const float* kth = k_t + kv_head * D * S;   // (D, S)
    const float* vh = v + kv_head * S * D;      // (S, D)
    const float* qt = q + (bh * T + t0) * D;    // (nr, D)
    float* ot = out + (bh * T + t0) * D;        // (nr, D)
    std::fill(ot, ot + nr * D, 0.0f);
    int64_t n_keys[kQueryTile];
    float row_max[kQueryTile], row_sum[kQueryTile];
    int64_t tile_keys = 0;
    for (int64_t r = 0; r < nr; ++r) {
      n_keys[r] = visible_keys(causal, t0 + r, T, S);
      tile_keys = std::max(tile_keys, n_keys[r]);
      row_max[r] = kNegInf;
      row_sum[r] = 0.0f;
    }
    float probs[kQueryTile][kKeyBlock];  // scores, then probabilities (0 where masked)
    for (int64_t s0 = 0; s0 < tile_keys; s0 += kKeyBlock) {
      const int64_t nb = std::min(kKeyBlock, tile_keys - s0);
      tile_scores(qt, nr, kth + s0, S, nb, D, scale, probs);
      for (int64_t r = 0; r < nr; ++r) {
        float* p = probs[r];
        const int64_t valid = std::clamp<int64_t>(n_keys[r] - s0, 0, nb);
        if (valid > 0) {
          float block_max = kNegInf;
          for (int64_t j = 0; j < valid; ++j) block_max = std::max(block_max, p[j]);
          if (block_max > row_max[r]) {
            if (row_max[r] != kNegInf) {
              const float correction = exp_nonpositive(row_max[r] - block_max);
              row_sum[r] *= correction;
              float* o = ot + r * D;
#pragma omp simd
              for (int64_t d = 0; d < D; ++d) o[d] *= correction;
            }
            row_max[r] = block_max;
          }
          const float m = row_max[r];
          float block_sum = 0.0f;
#pragma omp simd reduction(+ : block_sum)
          for (int64_t j = 0; j < valid; ++j) {
            p[j] = exp_nonpositive(p[j] - m);
            block_sum += p[j];
          }
          row_sum[r] += block_sum;
        }
        std::fill(p + valid, p + nb, 0.0f);
      }
      // out_tile (nr, D) += probs (nr, nb) @ v_block (nb, D)
      for (int64_t j = 0; j < nb; ++j) {
        const float* vj = vh + (s0 + j) * D;
        for (int64_t r = 0; r < nr; ++r) {
          const float pj = probs[r][j];
          float* o = ot + r * D;
#pragma omp simd
          for (int64_t d = 0; d < D; ++d) o[d] += pj * vj[d];
        }
      }
    }
    for (int64_t r = 0; r < nr; ++r) {
      if (n_keys[r] == 0) {
        lse[bh * T + t0 + r] = kNegInf;
        continue;
      }
      const float inv = 1.0f / row_sum[r];
      float* o = ot + r * D;
#pragma omp simd
      for (int64_t d = 0; d < D; ++d) o[d] *= inv;
      lse[bh * T + t0 + r] = row_max[r] + std::log(row_sum[r]);
    }
  }
}

void attention_backward_f32(const float* q, const float* k, const float* k_t, const float* v_t, const float* out,
                            const float* grad_out, const float* lse, int64_t B, int64_t Hq, int64_t Hkv, int64_t T,
                            int64_t S, int64_t D, bool causal, float scale, float* dq, float* dk_per_qhead,
                            float* dv_per_qhead) {
  const int64_t group = Hq / Hkv;
  const int64_t heads = B * Hq;
#pragma omp parallel for schedule(dynamic, 1) if (heads * T * S * D > kParallelMinWork)
  for (int64_t bh = 0; bh < heads; ++bh) {
    const int64_t h = bh % Hq, b = bh / Hq;
    const int64_t kv_head = b * Hkv + h / group;
    const float* kh = k + kv_head * S * D;     // (S, D)
    const float* kth = k_t + kv_head * D * S;  // (D, S)
    const float* vth = v_t + kv_head * D * S;  // (D, S)
    float* dkh = dk_per_qhead + bh * S * D;    // (S, D)
    float* dvh = dv_per_qhead + bh * S * D;    // (S, D)
    std::fill(dkh, dkh + S * D, 0.0f);
    std::fill(dvh, dvh + S * D, 0.0f);
    for (int64_t t0 = 0; t0 < T; t0 += kQueryTile) {
      const int64_t nr = std::min(kQueryTile, T - t0);
      const int64_t row0 = bh * T + t0;
      const float* qt = q + row0 * D;          // (nr, D)
      const float* got = grad_out + row0 * D;  // (nr, D)
      float* dqt = dq + row0 * D;              // (nr, D)
      std::fill(dqt, dqt + nr * D, 0.0f);
      int64_t n_keys[kQueryTile];
      float di[kQueryTile];
      int64_t tile_keys = 0;
      for (int64_t r = 0; r < nr; ++r) {
        n_keys[r] = visible_keys(causal, t0 + r, T, S);
        tile_keys = std::max(tile_keys, n_keys[r]);
        di[r] = dot(got + r * D, out + (row0 + r) * D, D);
      }
      float probs[kQueryTile][kKeyBlock];  // scores, then p
      float dscores[kQueryTile][kKeyBlock];  // dp, then ds
      for (int64_t s0 = 0; s0 < tile_keys; s0 += kKeyBlock) {
        const int64_t nb = std::min(kKeyBlock, tile_keys - s0);
        tile_scores(qt, nr, kth + s0, S, nb, D, scale, probs);
        tile_scores(got, nr, vth + s0, S, nb, D, 1.0f, dscores);
        for (int64_t r = 0; r < nr; ++r) {
          float* p = probs[r];
          float* ds = dscores[r];
          const int64_t valid = std::clamp<int64_t>(n_keys[r] - s0, 0, nb);
          const float row_lse = lse[row0 + r], row_di = di[r];
#pragma omp simd
          for (int64_t j = 0; j < valid; ++j) {
            p[j] = exp_nonpositive(p[j] - row_lse);
            ds[j] = scale * p[j] * (ds[j] - row_di);
          }
          std::fill(p + valid, p + nb, 0.0f);
          std::fill(ds + valid, ds + nb, 0.0f);
        }
        // dq_tile (nr, D) += ds (nr, nb) @ k_block (nb, D)
        for (int64_t r = 0; r < nr; ++r) {
          float* dqr = dqt + r * D;
          for (int64_t j = 0; j < nb; ++j) {
            const float dsj = dscores[r][j];
            const float* kj = kh + (s0 + j) * D;
#pragma omp simd
            for (int64_t d = 0; d < D; ++d) dqr[d] += dsj * kj[d];
          }
        }
        // dk_block (nb, D) += ds^T @ q_tile, dv_block (nb, D) += p^T @ dO_tile: each dk/dv row is
        // loaded and stored once per tile, the tile's rows summed in registers.
        for (int64_t j = 0; j < nb; ++j) {
          float* dkj = dkh + (s0 + j) * D;
          float* dvj = dvh + (s0 + j) * D;
          if (nr == kQueryTile) {
            const float ds0 = dscores[0][j], ds1 = dscores[1][j], ds2 = dscores[2][j], ds3 = dscores[3][j];
            const float p0 = probs[0][j], p1 = probs[1][j], p2 = probs[2][j], p3 = probs[3][j];
            const float *q0 = qt, *q1 = qt + D, *q2 = qt + 2 * D, *q3 = qt + 3 * D;
            const float *g0 = got, *g1 = got + D, *g2 = got + 2 * D, *g3 = got + 3 * D;
#pragma omp simd
            for (int64_t d = 0; d < D; ++d) {
              dkj[d] += ds0 * q0[d] + ds1 * q1[d] + ds2 * q2[d] + ds3 * q3[d];
              dvj[d] += p0 * g0[d] + p1 * g1[d] + p2 * g2[d] + p3 * g3[d];
            }
          } else {
            for (int64_t r = 0; r < nr; ++r) {
              const float pj = probs[r][j], dsj = dscores[r][j];
              const float* qr = qt + r * D;
              const float* gr = got + r * D;
#pragma omp simd
              for (int64_t d = 0; d < D; ++d) {
                dkj[d] += dsj * qr[d];
                dvj[d] += pj * gr[d];
              }
            }
          }
        }
      }
    }
  }
}

}  // namespace anvil::kernels::cpu
