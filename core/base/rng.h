// Philox4x32-10, a counter-based RNG: the numbers depend only on (seed, counter), so the CPU and
// CUDA kernels produce the same stream for the same seed, and any element can be generated
// independently (element i uses counter i/4, lane i%4). No state to save but (seed, offset).
#pragma once

#include <cmath>
#include <cstdint>

#include "core/base/dtype.h"

namespace anvil {

struct Philox4x32 {
  static constexpr uint32_t kMul0 = 0xD2511F53u;
  static constexpr uint32_t kMul1 = 0xCD9E8D57u;
  static constexpr uint32_t kWeyl0 = 0x9E3779B9u;
  static constexpr uint32_t kWeyl1 = 0xBB67AE85u;
  static constexpr int kRounds = 10;

  struct U4 {
    uint32_t x, y, z, w;
  };

  // Four random 32-bit words for (seed, counter).
  ANVIL_HD static U4 generate(uint64_t seed, uint64_t counter) {
    uint32_t c0 = uint32_t(counter), c1 = uint32_t(counter >> 32), c2 = 0, c3 = 0;
    uint32_t k0 = uint32_t(seed), k1 = uint32_t(seed >> 32);
    for (int r = 0; r < kRounds; ++r) {
      uint64_t p0 = uint64_t(kMul0) * c0;
      uint64_t p1 = uint64_t(kMul1) * c2;
      uint32_t hi0 = uint32_t(p0 >> 32), lo0 = uint32_t(p0);
      uint32_t hi1 = uint32_t(p1 >> 32), lo1 = uint32_t(p1);
      uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
      c0 = n0;
      c1 = lo1;
      c2 = n2;
      c3 = lo0;
      k0 += kWeyl0;
      k1 += kWeyl1;
    }
    return {c0, c1, c2, c3};
  }

  // The i-th 32-bit word of the stream for `seed`.
  ANVIL_HD static uint32_t word(uint64_t seed, uint64_t i) {
    U4 r = generate(seed, i >> 2);
    switch (i & 3) {
      case 0: return r.x;
      case 1: return r.y;
      case 2: return r.z;
      default: return r.w;
    }
  }
  // Uniform in [0, 1) with 24 bits of mantissa.
  ANVIL_HD static float uniform(uint64_t seed, uint64_t i) {
    return float(word(seed, i) >> 8) * (1.0f / 16777216.0f);
  }
  // Standard normal by Box-Muller over words (2i, 2i+1).
  ANVIL_HD static float normal(uint64_t seed, uint64_t i) {
    float u1 = (float(word(seed, 2 * i) >> 8) + 1.0f) * (1.0f / 16777216.0f);  // (0, 1]
    float u2 = float(word(seed, 2 * i + 1) >> 8) * (1.0f / 16777216.0f);
    return sqrtf(-2.0f * logf(u1)) * cosf(6.283185307179586f * u2);
  }
};

// A host-side generator: a seed plus an offset that advances as numbers are drawn, so that a
// checkpoint stores two integers and resumes the exact stream.
struct Generator {
  uint64_t seed = 0;
  uint64_t offset = 0;
  explicit Generator(uint64_t s = 0) : seed(s) {}
  // Reserves n numbers and returns the offset of the first.
  uint64_t take(uint64_t n) {
    uint64_t o = offset;
    offset += n;
    return o;
  }
};

}  // namespace anvil
