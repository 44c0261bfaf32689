// CUDA embedding (see embedding.h for the API).
//
// Math: forward out[i, :] = table[ids[i], :]; backward dtable[v, :] += sum_{i: ids[i] = v} dout[i, :].
// Trick (backward, deterministic without sorting or atomics): block (bucket b, column chunk c)
//   owns vocab rows [256 b, 256 b + 256) and 256 columns, so no other block touches its part of
//   dtable. It streams all ids in chunks of 256; a warp ballot plus a prefix over the 8 warps
//   compacts the positions whose id falls in its bucket into shared memory, in increasing i. Every
//   thread (one column) then adds those dout rows in that order. Each block reads all n ids (8
//   bytes each, L2-resident), which is cheap beside the n * dim gradient it moves once.
// Gradients: dtable `+=` (a parameter gradient).
// Speed: not yet measured (no GPU lent).
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/embedding.h"

namespace anvil::kernels::cuda {

namespace {
constexpr int kEmbThreads = 256;
constexpr int kBucketRows = 256;   // vocab rows per backward block
constexpr int kChunkColumns = kEmbThreads;
constexpr int kEmbWarps = kEmbThreads / kWarpSize;

template <typename T>
__global__ void embedding_forward_kernel(const T* table, const int64_t* ids, T* out, int64_t n, int64_t vocab,
                                         int64_t dim) {
  const int64_t total = n * dim;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = e / dim, c = e % dim;
    const int64_t id = ids[i];
    out[e] = (id >= 0 && id < vocab) ? table[id * dim + c] : from_f32<T>(NAN);
  }
}

template <typename T>
__global__ void __launch_bounds__(kEmbThreads) embedding_backward_kernel(const T* dout, const int64_t* ids,
                                                                         float* dtable, int64_t n, int64_t vocab,
                                                                         int64_t dim) {
  __shared__ int64_t match_index[kEmbThreads];
  __shared__ int64_t match_id[kEmbThreads];
  __shared__ int warp_counts[kEmbWarps];
  const int64_t v0 = int64_t(blockIdx.x) * kBucketRows;
  const int64_t col = int64_t(blockIdx.y) * kChunkColumns + threadIdx.x;
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  for (int64_t base = 0; base < n; base += kEmbThreads) {
    const int64_t i = base + threadIdx.x;
    const int64_t id = i < n ? ids[i] : -1;
    const bool mine = id >= v0 && id < v0 + kBucketRows && id < vocab;
    const unsigned ballot = __ballot_sync(0xffffffffu, mine);
    if (lane == 0) warp_counts[warp] = __popc(ballot);
    __syncthreads();
    int offset = 0, total = 0;
#pragma unroll
    for (int w = 0; w < kEmbWarps; ++w) {
      offset += w < warp ? warp_counts[w] : 0;
      total += warp_counts[w];
    }
    if (mine) {
      const int slot = offset + __popc(ballot & ((1u << lane) - 1u));  // keeps increasing i
      match_index[slot] = i;
      match_id[slot] = id;
    }
    __syncthreads();
    if (col < dim) {
      for (int m = 0; m < total; ++m) {
        float* dst = dtable + match_id[m] * dim + col;
        *dst += load(dout, match_index[m] * dim + col);
      }
    }
    __syncthreads();  // the lists and counts are rewritten by the next chunk
  }
}
}  // namespace

void embedding_forward(DType dtype, const void* table, const int64_t* ids, void* out, int64_t n, int64_t vocab,
                       int64_t dim, void* stream) {
  ANVIL_CHECK_OP(n >= 0 && vocab > 0 && dim > 0, "[embedding] bad sizes n=", n, " vocab=", vocab, " dim=", dim);
  if (n == 0) return;
  cudaStream_t s = resolve_stream(stream);
  dispatch_float(dtype, "embedding", [&](auto tag) {
    using T = decltype(tag);
    ANVIL_LAUNCH((embedding_forward_kernel<T>), grid_for(n * dim, kEmbThreads), kEmbThreads, 0, s,
                 static_cast<const T*>(table), ids, static_cast<T*>(out), n, vocab, dim);
  });
}

void embedding_backward(DType dtype, const void* dout, const int64_t* ids, float* dtable, int64_t n, int64_t vocab,
                        int64_t dim, void* stream) {
  ANVIL_CHECK_OP(n >= 0 && vocab > 0 && dim > 0, "[embedding_backward] bad sizes n=", n, " vocab=", vocab,
                 " dim=", dim);
  if (n == 0) return;
  cudaStream_t s = resolve_stream(stream);
  const dim3 grid(unsigned((vocab + kBucketRows - 1) / kBucketRows), unsigned((dim + kChunkColumns - 1) / kChunkColumns));
  ANVIL_CHECK_OP(grid.y <= 65535, "[embedding_backward] dim ", dim, " too large");
  dispatch_float(dtype, "embedding_backward", [&](auto tag) {
    using T = decltype(tag);
    ANVIL_LAUNCH((embedding_backward_kernel<T>), grid, kEmbThreads, 0, s, static_cast<const T*>(dout), ids, dtable, n,
                 vocab, dim);
  });
}

}  // namespace anvil::kernels::cuda
