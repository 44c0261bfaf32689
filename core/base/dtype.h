// Element types and the bf16/f16 <-> f32 conversions, usable on host and device.
//
// bf16 is the top half of an f32 (round-to-nearest-even on the way down); f16 is IEEE binary16.
// CPU kernels compute in f32 and convert on load and store.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#if defined(__CUDACC__)
#define ANVIL_HD __host__ __device__ __forceinline__
#else
#define ANVIL_HD inline
#endif

namespace anvil {

enum class DType : uint8_t { F32, F16, BF16, I32, I64, I8, U8 };

constexpr int64_t dtype_size(DType t) {
  switch (t) {
    case DType::F32: return 4;
    case DType::F16: return 2;
    case DType::BF16: return 2;
    case DType::I32: return 4;
    case DType::I64: return 8;
    case DType::I8: return 1;
    case DType::U8: return 1;
  }
  return 0;
}
constexpr bool is_floating(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }

// The dtype of a binary op's result on floating inputs (PyTorch's promotion for these three): the
// same dtype stays; anything with f32, and bf16 with f16 (neither holds the other), is f32. So
// add(bf16, f32) and add(f32, bf16) agree, and nothing is silently rounded to the lower precision.
constexpr DType promote_floating(DType a, DType b) { return a == b ? a : DType::F32; }

std::string_view dtype_name(DType t);
// Parses "f32"/"float32", "bf16"/"bfloat16", ...; throws InputError naming the value otherwise.
DType dtype_from_name(std::string_view name);
// safetensors spells dtypes "F32", "BF16", "I64", ...
std::string_view dtype_safetensors_name(DType t);
bool dtype_from_safetensors_name(std::string_view name, DType* out);

ANVIL_HD uint32_t f32_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}
ANVIL_HD float f32_from_bits(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

// Stored 16-bit floats are kept as raw bits so host code needs no CUDA headers.
struct bf16 {
  uint16_t bits;
};
struct f16 {
  uint16_t bits;
};

ANVIL_HD float bf16_to_f32(uint16_t b) { return f32_from_bits(uint32_t(b) << 16); }
ANVIL_HD uint16_t f32_to_bf16(float f) {
  uint32_t u = f32_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);                                        // round to nearest even
  return uint16_t(u >> 16);
}

ANVIL_HD float f16_to_f32(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t man = h & 0x3ffu;
  if (exp == 0) {
    if (man == 0) return f32_from_bits(sign);
    // subnormal: value = man * 2^-24
    float v = float(man) * 5.9604644775390625e-8f;
    return sign ? -v : v;
  }
  if (exp == 31) return f32_from_bits(sign | 0x7f800000u | (man << 13));
  return f32_from_bits(sign | ((exp + 112u) << 23) | (man << 13));
}
ANVIL_HD uint16_t f32_to_f16(float f) {
  uint32_t u = f32_bits(f);
  uint32_t sign = (u >> 16) & 0x8000u;
  uint32_t absu = u & 0x7fffffffu;
  if (absu > 0x7f800000u) return uint16_t(sign | 0x7e00u);   // NaN
  if (absu >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // overflow -> inf
  if (absu < 0x38800000u) {                                   // subnormal or zero in f16
    // round(|f| * 2^24) to nearest even, done in float arithmetic which is exact here
    float a = f32_from_bits(absu) * 16777216.0f;
    uint32_t m = uint32_t(a);
    float rem = a - float(m);
    if (rem > 0.5f || (rem == 0.5f && (m & 1u))) m++;
    return uint16_t(sign | m);
  }
  uint32_t exp = ((absu >> 23) - 112u) << 10;
  uint32_t man = (absu >> 13) & 0x3ffu;
  uint32_t h = exp | man;
  uint32_t rest = absu & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h++;
  return uint16_t(sign | h);
}

}  // namespace anvil
