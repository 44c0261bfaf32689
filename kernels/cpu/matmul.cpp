#include "kernels/cpu/matmul.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace anvil::kernels::cpu {

namespace {
constexpr int64_t kPanelK = 256;  // rows of the packed B panel
constexpr int64_t kPanelN = 256;  // columns: KC x NC floats = 256 KiB, L2-resident
constexpr int64_t kRowsPerStep = 4;

// c_r[j] += sum_k a_r[k] * bp[k][j] for 4 rows at once; bp is the packed (kc, nc) panel.
inline void micro_4rows(int64_t kc, int64_t nc, const float* a0, const float* a1, const float* a2, const float* a3,
                        int64_t a_cs, const float* bp, float* c0, float* c1, float* c2, float* c3) {
  for (int64_t k = 0; k < kc; ++k) {
    const float x0 = a0[k * a_cs], x1 = a1[k * a_cs], x2 = a2[k * a_cs], x3 = a3[k * a_cs];
    const float* b = bp + k * nc;
#pragma omp simd
    for (int64_t j = 0; j < nc; ++j) {
      const float bj = b[j];
      c0[j] += x0 * bj;
      c1[j] += x1 * bj;
      c2[j] += x2 * bj;
      c3[j] += x3 * bj;
    }
  }
}

inline void micro_1row(int64_t kc, int64_t nc, const float* a0, int64_t a_cs, const float* bp, float* c0) {
  for (int64_t k = 0; k < kc; ++k) {
    const float x0 = a0[k * a_cs];
    const float* b = bp + k * nc;
#pragma omp simd
    for (int64_t j = 0; j < nc; ++j) c0[j] += x0 * b[j];
  }
}
}  // namespace

void gemm_f32(int64_t M, int64_t N, int64_t K, const float* A, int64_t a_rs, int64_t a_cs, const float* B,
              int64_t b_rs, int64_t b_cs, float* C, int64_t ldc, bool accumulate) {
  if (M == 0 || N == 0) return;
  if (!accumulate) {
    for (int64_t i = 0; i < M; ++i) std::memset(C + i * ldc, 0, size_t(N) * sizeof(float));
  }
  if (K == 0) return;
  std::vector<float> panel(size_t(kPanelK * kPanelN));
  for (int64_t n0 = 0; n0 < N; n0 += kPanelN) {
    const int64_t nc = std::min(kPanelN, N - n0);
    for (int64_t k0 = 0; k0 < K; k0 += kPanelK) {
      const int64_t kc = std::min(kPanelK, K - k0);
      // Pack B[k0:k0+kc, n0:n0+nc] row-major with row length nc.
      float* bp = panel.data();
      for (int64_t k = 0; k < kc; ++k) {
        const float* src = B + (k0 + k) * b_rs + n0 * b_cs;
        float* dst = bp + k * nc;
        if (b_cs == 1) {
          std::memcpy(dst, src, size_t(nc) * sizeof(float));
        } else {
          for (int64_t j = 0; j < nc; ++j) dst[j] = src[j * b_cs];
        }
      }
      const int64_t row_blocks = (M + kRowsPerStep - 1) / kRowsPerStep;
#pragma omp parallel for schedule(static) if (M * nc * kc > 65536)
      for (int64_t rb = 0; rb < row_blocks; ++rb) {
        const int64_t i = rb * kRowsPerStep;
        const float* a = A + i * a_rs + k0 * a_cs;
        float* c = C + i * ldc + n0;
        if (i + kRowsPerStep <= M) {
          micro_4rows(kc, nc, a, a + a_rs, a + 2 * a_rs, a + 3 * a_rs, a_cs, bp, c, c + ldc, c + 2 * ldc,
                      c + 3 * ldc);
        } else {
          for (int64_t r = i; r < M; ++r) micro_1row(kc, nc, a + (r - i) * a_rs, a_cs, bp, c + (r - i) * ldc);
        }
      }
    }
  }
}

}  // namespace anvil::kernels::cpu
