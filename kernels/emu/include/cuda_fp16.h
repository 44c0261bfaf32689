// Emulator shim: the half-precision conversions the kernels use, in software (round to nearest
// even, as __float2half_rn), sharing core/base/dtype.h's conversions with the CPU path.
#pragma once

#include <cstdint>

#include "core/base/dtype.h"
#include "kernels/emu/device.h"

struct __half {
  uint16_t bits;
};
inline float __half2float(__half h) { return ::anvil::f16_to_f32(h.bits); }
inline __half __float2half_rn(float f) { return __half{::anvil::f32_to_f16(f)}; }
inline __half __float2half(float f) { return __float2half_rn(f); }
inline __half __ushort_as_half(unsigned short bits) { return __half{bits}; }
inline unsigned short __half_as_ushort(__half h) { return h.bits; }
