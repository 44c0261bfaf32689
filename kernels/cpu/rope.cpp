// Rotary embedding kernels. The table follows HF's float32 arithmetic step by step:
//   inv_freq = 1.0 / theta ** (arange(0, D, 2).float() / D)   (all f32)
//   angle    = float(pos) * inv_freq                          (f32 product)
//   cos, sin = cos(angle), sin(angle)                          (f32)
// The apply loop is contiguous over the half-dim, so it vectorizes.
#include "kernels/cpu/rope.h"

#include <cmath>

namespace anvil::kernels::cpu {

namespace {
constexpr int64_t kParallelMinElements = 16384;
}  // namespace

void rope_table_f32(int64_t T, int64_t D, int64_t pos_offset, float theta, float* cos_table, float* sin_table) {
  const int64_t half = D / 2;
  for (int64_t i = 0; i < half; ++i) {
    const float exponent = float(2 * i) / float(D);
    const float inv_freq = 1.0f / std::pow(theta, exponent);
    for (int64_t t = 0; t < T; ++t) {
      const float angle = float(pos_offset + t) * inv_freq;
      cos_table[t * half + i] = std::cos(angle);
      sin_table[t * half + i] = std::sin(angle);
    }
  }
}

void rope_apply_f32(const float* x, const float* cos_table, const float* sin_table, int64_t rows, int64_t T,
                    int64_t D, bool inverse, float* out) {
  const int64_t half = D / 2;
  const float sign = inverse ? -1.0f : 1.0f;
#pragma omp parallel for collapse(2) schedule(static) if (rows * T * D > kParallelMinElements)
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t t = 0; t < T; ++t) {
      const float* xr = x + (r * T + t) * D;  // (D)
      float* o = out + (r * T + t) * D;       // (D)
      const float* c = cos_table + t * half;  // (D/2)
      const float* s = sin_table + t * half;  // (D/2)
#pragma omp simd
      for (int64_t i = 0; i < half; ++i) {
        const float lo = xr[i], hi = xr[i + half], sn = sign * s[i];
        o[i] = lo * c[i] - hi * sn;
        o[i + half] = hi * c[i] + lo * sn;
      }
    }
  }
}

}  // namespace anvil::kernels::cpu
