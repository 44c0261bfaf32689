// Device-side CUDA names for kernel sources compiled as host C++ under the emulator: qualifiers,
// built-in variables, vector types, intrinsics and warp collectives. Included by the shim
// cuda_runtime.h; definitions that need the running thread live in kernels/emu/scheduler.cpp.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/emu/emu.h"

// Qualifiers. __shared__ variables become function statics: blocks run one at a time, so one copy
// is one block's shared memory. aligned(4) drops the host's extra alignment of large arrays (16-32
// bytes on x86-64), so a __shared__ array read with 8- or 16-byte vector loads but declared without
// __align__ is placed, as on a GPU, where those loads may be misaligned, and the alignment check sees it.
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static __attribute__((aligned(4)))
#define __align__(n) __attribute__((aligned(n)))
#define __restrict__ __restrict

// Built-in variables.
#define threadIdx (::anvil::emu::thread_idx())
#define blockIdx (::anvil::emu::block_idx())
#define blockDim (::anvil::emu::block_dim())
#define gridDim (::anvil::emu::grid_dim())
constexpr int warpSize = 32;

// Vector types, with the alignment CUDA gives them (a misaligned vector access then fails the check).
struct alignas(8) float2 {
  float x, y;
};
struct alignas(16) float4 {
  float x, y, z, w;
};
struct alignas(8) uint2 {
  unsigned x, y;
};
struct alignas(16) uint4 {
  unsigned x, y, z, w;
};
struct alignas(8) int2 {
  int x, y;
};
struct alignas(16) int4 {
  int x, y, z, w;
};
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline uint2 make_uint2(unsigned x, unsigned y) { return {x, y}; }
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }
inline int2 make_int2(int x, int y) { return {x, y}; }
inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }

// Barriers and collectives.
inline void __syncthreads() { ::anvil::emu::syncthreads(); }
inline void __syncwarp(unsigned mask = 0xffffffffu) { ::anvil::emu::syncwarp(mask); }

namespace anvil::emu::detail {
template <typename T>
inline uint32_t to_word(T v) {
  static_assert(sizeof(T) == 4, "emulated shuffles move 32-bit values");
  uint32_t w;
  std::memcpy(&w, &v, 4);
  return w;
}
template <typename T>
inline T from_word(uint32_t w) {
  T v;
  std::memcpy(&v, &w, 4);
  return v;
}
}  // namespace anvil::emu::detail

template <typename T>
inline T __shfl_sync(unsigned mask, T v, int src_lane, int width = warpSize) {
  using namespace ::anvil::emu::detail;
  return from_word<T>(::anvil::emu::shfl(mask, to_word(v), src_lane, width));
}
template <typename T>
inline T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = warpSize) {
  using namespace ::anvil::emu::detail;
  return from_word<T>(::anvil::emu::shfl_xor(mask, to_word(v), lane_mask, width));
}
template <typename T>
inline T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = warpSize) {
  using namespace ::anvil::emu::detail;
  return from_word<T>(::anvil::emu::shfl_up(mask, to_word(v), delta, width));
}
template <typename T>
inline T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = warpSize) {
  using namespace ::anvil::emu::detail;
  return from_word<T>(::anvil::emu::shfl_down(mask, to_word(v), delta, width));
}
inline unsigned __ballot_sync(unsigned mask, int predicate) { return ::anvil::emu::ballot(mask, predicate != 0); }
inline int __any_sync(unsigned mask, int predicate) { return ::anvil::emu::ballot(mask, predicate != 0) != 0; }
inline int __all_sync(unsigned mask, int predicate) {
  return ::anvil::emu::ballot(mask, predicate != 0) == ::anvil::emu::ballot(mask, true);
}

// Atomics (the old value is returned, as in CUDA). Not instrumented: an atomic is never a race.
template <typename T>
__attribute__((no_sanitize_thread)) inline T anvil_emu_atomic_rmw(T* p, T v, int op) {
  ::anvil::emu::check_atomic(p, sizeof(T));
  const T old = *p;
  switch (op) {
    case 0: *p = old + v; break;
    case 1: *p = v < old ? v : old; break;
    case 2: *p = old < v ? v : old; break;
    case 3: *p = v; break;
    case 4: *p = old - v; break;
  }
  return old;
}
template <typename T>
inline T atomicAdd(T* p, T v) { return anvil_emu_atomic_rmw(p, v, 0); }
template <typename T>
inline T atomicSub(T* p, T v) { return anvil_emu_atomic_rmw(p, v, 4); }
template <typename T>
inline T atomicMin(T* p, T v) { return anvil_emu_atomic_rmw(p, v, 1); }
template <typename T>
inline T atomicMax(T* p, T v) { return anvil_emu_atomic_rmw(p, v, 2); }
template <typename T>
inline T atomicExch(T* p, T v) { return anvil_emu_atomic_rmw(p, v, 3); }
template <typename T>
__attribute__((no_sanitize_thread)) inline T atomicCAS(T* p, T compare, T v) {
  ::anvil::emu::check_atomic(p, sizeof(T));
  const T old = *p;
  if (old == compare) *p = v;
  return old;
}

// CUDA's global min/max overloads (integers and floats, mixed types promoted as C++ would).
template <typename A, typename B>
inline auto min(A a, B b) -> decltype(a + b) {
  using C = decltype(a + b);
  return C(a) < C(b) ? C(a) : C(b);
}
template <typename A, typename B>
inline auto max(A a, B b) -> decltype(a + b) {
  using C = decltype(a + b);
  return C(a) < C(b) ? C(b) : C(a);
}

// Integer and float intrinsics (the fast-math ones at full precision: the emulator checks logic,
// not the last ulp of __expf).
inline int __popc(unsigned v) { return __builtin_popcount(v); }
inline int __popcll(unsigned long long v) { return __builtin_popcountll(v); }
inline int __clz(int v) { return v == 0 ? 32 : __builtin_clz(unsigned(v)); }
inline int __ffs(int v) { return __builtin_ffs(v); }
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
inline float __int_as_float(int v) { return ::anvil::emu::detail::from_word<float>(uint32_t(v)); }
inline int __float_as_int(float v) { return int(::anvil::emu::detail::to_word(v)); }
inline float __uint_as_float(unsigned v) { return ::anvil::emu::detail::from_word<float>(v); }
inline unsigned __float_as_uint(float v) { return ::anvil::emu::detail::to_word(v); }
// Only the PTX wrappers in kernels/cuda/ptx.cuh take shared addresses, and under the emulator they
// pass pointers; this keeps a stray use compiling to the identity.
inline size_t __cvta_generic_to_shared(const void* p) { return reinterpret_cast<size_t>(p); }
