// CUDA dropout (see dropout.h for the API).
//
// Math: keep_i = uniform(seed, offset + i) >= p, y_i = keep_i ? x_i / (1 - p) : 0.
// Trick: Philox4x32 is counter-based, so thread i computes its own uniform from (seed, offset + i)
//   with the very code the CPU runs (core/base/rng.h); the backward recomputes keep_i instead of
//   reading a saved mask. Each Philox call yields 4 words; a thread handles 4 consecutive
//   elements whose counters share one call when offset is a multiple of 4.
// Gradients: dx `=`.
// Speed: not yet measured (no GPU lent).
#include "core/base/rng.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/dropout.h"

namespace anvil::kernels::cuda {

namespace {
constexpr int kDropThreads = 256;
constexpr int kPerThread = 4;  // one Philox block of 4 words

__device__ __forceinline__ uint32_t lane_word(const Philox4x32::U4& r, int k) {
  return k == 0 ? r.x : k == 1 ? r.y : k == 2 ? r.z : r.w;
}

// Applies dropout to elements [4 g, 4 g + 4) of each group g; mask may be null.
template <typename T>
__global__ void dropout_kernel(const T* x, T* y, uint8_t* mask, int64_t n, float p, float keep_scale, uint64_t seed,
                               uint64_t offset) {
  const int64_t groups = (n + kPerThread - 1) / kPerThread;
  for (int64_t g = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; g < groups; g += int64_t(gridDim.x) * blockDim.x) {
    const uint64_t first = offset + uint64_t(g) * kPerThread;
    const bool aligned = (first & 3u) == 0;
    Philox4x32::U4 block{};
    if (aligned) block = Philox4x32::generate(seed, first >> 2);
#pragma unroll
    for (int k = 0; k < kPerThread; ++k) {
      const int64_t i = g * kPerThread + k;
      if (i >= n) break;
      // The same value as Philox4x32::uniform(seed, offset + i), sharing one generate() call.
      const float u = aligned ? float(lane_word(block, k) >> 8) * (1.0f / 16777216.0f)
                              : Philox4x32::uniform(seed, first + k);
      const bool keep = u >= p;
      y[i] = from_f32<T>(keep ? load(x, i) * keep_scale : 0.0f);
      if (mask) mask[i] = keep ? 1 : 0;
    }
  }
}

void run(DType dtype, const void* x, void* y, uint8_t* mask, int64_t n, float p, uint64_t seed, uint64_t offset,
         void* stream, const char* op) {
  ANVIL_CHECK_OP(n >= 0, "[", op, "] negative element count ", n);
  ANVIL_CHECK_OP(p >= 0.0f && p < 1.0f, "[", op, "] probability must be in [0, 1), got ", p);
  if (n == 0) return;
  cudaStream_t s = resolve_stream(stream);
  const float keep_scale = 1.0f / (1.0f - p);
  dispatch_float(dtype, op, [&](auto tag) {
    using T = decltype(tag);
    ANVIL_LAUNCH((dropout_kernel<T>), grid_for((n + kPerThread - 1) / kPerThread, kDropThreads), kDropThreads, 0, s,
                 static_cast<const T*>(x), static_cast<T*>(y), mask, n, p, keep_scale, seed, offset);
  });
}
}  // namespace

void dropout_forward(DType dtype, const void* x, void* y, uint8_t* mask, int64_t n, float p, uint64_t seed,
                     uint64_t offset, void* stream) {
  run(dtype, x, y, mask, n, p, seed, offset, stream, "dropout");
}
void dropout_backward(DType dtype, const void* dy, void* dx, int64_t n, float p, uint64_t seed, uint64_t offset,
                      void* stream) {
  run(dtype, dy, dx, nullptr, n, p, seed, offset, stream, "dropout_backward");
}

}  // namespace anvil::kernels::cuda
