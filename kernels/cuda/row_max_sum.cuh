// The row (max, sum of exp) reduction that the CUDA softmax (softmax.cu) and the fused
// cross-entropy (loss.cu) share: one block of kRowThreads threads per row; each thread keeps an
// online (max, sum) pair over its strided columns, pairs combine by rescaling (warp shuffles, then
// one shared slot per warp), so max and sum take a single read of the row.
#pragma once

#include "kernels/cuda/common.cuh"

namespace anvil::kernels::cuda {
namespace {

constexpr int kRowThreads = 256;
constexpr int kRowWarps = kRowThreads / kWarpSize;

struct MaxSum {
  float m, s;
};
__device__ __forceinline__ MaxSum combine(MaxSum a, MaxSum b) {
  const float m = fmaxf(a.m, b.m);
  if (m == -INFINITY) return {m, 0.0f};
  return {m, a.s * __expf(a.m - m) + b.s * __expf(b.m - m)};
}
__device__ __forceinline__ MaxSum add_value(MaxSum a, float x) { return combine(a, MaxSum{x, 1.0f}); }

// Row (max, sum exp) over the block; every thread gets the result.
__device__ MaxSum block_max_sum(MaxSum v) {
  __shared__ MaxSum slots[kRowWarps];
#pragma unroll
  for (int o = kWarpSize / 2; o > 0; o >>= 1) {
    MaxSum other{__shfl_xor_sync(0xffffffffu, v.m, o), __shfl_xor_sync(0xffffffffu, v.s, o)};
    v = combine(v, other);
  }
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  if (lane == 0) slots[warp] = v;
  __syncthreads();
  MaxSum r{-INFINITY, 0.0f};
#pragma unroll
  for (int w = 0; w < kRowWarps; ++w) r = combine(r, slots[w]);  // same order in every thread
  return r;
}

template <typename T>
__device__ MaxSum row_max_sum(const T* row, int64_t cols) {
  MaxSum v{-INFINITY, 0.0f};
  for (int64_t c = threadIdx.x; c < cols; c += kRowThreads) v = add_value(v, load(row, c));
  return block_max_sum(v);
}

}  // namespace
}  // namespace anvil::kernels::cuda
