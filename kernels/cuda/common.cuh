// Device helpers shared by the kernel families: stream resolution, storage-type load/store in
// f32, warp and block reductions, grid sizing and the dtype -> template dispatch.
//
// Storage types are anvil's own float / bf16 / f16 (raw bits), so the launch headers stay plain
// C++; kernels convert on load and store and compute in f32. bf16 uses the same round-to-nearest-
// even as the CPU path (core/base/dtype.h), so a CUDA op and its CPU reference round identically.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "core/base/dtype.h"
#include "core/base/error.h"
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/stream.h"

namespace anvil::kernels::cuda {

constexpr int kWarpSize = 32;

// Declares `name`, the block's dynamic shared memory as bytes (16-byte aligned). Under the emulator
// it is the emulated block's dynamic area, so a kernel reads its dynamic shared memory one way.
#if defined(ANVIL_CUDA_EMULATE)
#define ANVIL_DYNAMIC_SHARED_BYTES(name) unsigned char* const name = ::anvil::emu::dynamic_shared()
#else
#define ANVIL_DYNAMIC_SHARED_BYTES(name) extern __shared__ __align__(16) unsigned char name[]
#endif

// nullptr means the anvil stream of the current device.
inline cudaStream_t resolve_stream(void* stream) {
  if (stream != nullptr) return static_cast<cudaStream_t>(stream);
  return static_cast<cudaStream_t>(default_stream(current_device()));
}

// Blocks for a grid-stride loop over n items: enough to fill the GPU, never more than needed.
inline unsigned grid_for(int64_t n, int threads, int64_t max_blocks = 65535LL * 8) {
  int64_t blocks = (n + threads - 1) / threads;
  if (blocks < 1) blocks = 1;
  if (blocks > max_blocks) blocks = max_blocks;
  return unsigned(blocks);
}

__device__ __forceinline__ float to_f32(float v) { return v; }
__device__ __forceinline__ float to_f32(bf16 v) { return bf16_to_f32(v.bits); }
__device__ __forceinline__ float to_f32(f16 v) { return __half2float(__ushort_as_half(v.bits)); }

template <typename T>
__device__ __forceinline__ T from_f32(float v);
template <>
__device__ __forceinline__ float from_f32<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ bf16 from_f32<bf16>(float v) {
  return bf16{f32_to_bf16(v)};
}
template <>
__device__ __forceinline__ f16 from_f32<f16>(float v) {
  return f16{__half_as_ushort(__float2half_rn(v))};
}

template <typename T>
__device__ __forceinline__ float load(const T* p, int64_t i) {
  return to_f32(p[i]);
}
template <typename T>
__device__ __forceinline__ void store(T* p, int64_t i, float v) {
  p[i] = from_f32<T>(v);
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = kWarpSize / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = kWarpSize / 2; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// GELU, tanh approximation, shared by the elementwise kernels and the GEMM epilogue.
constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kGeluCubic = 0.044715f;
__device__ __forceinline__ float gelu_tanh(float x) {
  const float u = kSqrt2OverPi * (x + kGeluCubic * x * x * x);
  return 0.5f * x * (1.0f + tanhf(u));
}
__device__ __forceinline__ float gelu_tanh_derivative(float x) {
  const float u = kSqrt2OverPi * (x + kGeluCubic * x * x * x);
  const float t = tanhf(u);
  return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * kSqrt2OverPi * (1.0f + 3.0f * kGeluCubic * x * x);
}

// Sum over the block, returned to every thread. `scratch` holds >= 32 floats; the reduction order
// is fixed by the thread layout, so results are deterministic. Blocks are multiples of 32 threads.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  const int warps = blockDim.x / kWarpSize;
  v = warp_sum(v);
  __syncthreads();  // scratch may still be read by a previous call
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < warps ? scratch[lane] : 0.0f;
  return warp_sum(v);
}
__device__ __forceinline__ float block_max(float v, float* scratch) {
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  const int warps = blockDim.x / kWarpSize;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < warps ? scratch[lane] : -INFINITY;
  return warp_max(v);
}

// Calls f(T{}) with T the storage type of a floating dtype; other dtypes are a caller error.
template <typename F>
void dispatch_float(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::F32: f(float{}); return;
    case DType::BF16: f(bf16{}); return;
    case DType::F16: f(f16{}); return;
    default: break;
  }
  throw OpError(std::string("[") + op + "] CUDA kernel needs f32, bf16 or f16, got " + std::string(dtype_name(t)));
}
// Same for the 16-bit types only (tensor-core and bf16-only kernels).
template <typename F>
void dispatch_half(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::BF16: f(bf16{}); return;
    case DType::F16: f(f16{}); return;
    default: break;
  }
  throw OpError(std::string("[") + op + "] CUDA kernel needs bf16 or f16, got " + std::string(dtype_name(t)));
}

}  // namespace anvil::kernels::cuda
