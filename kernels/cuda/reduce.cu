// CUDA reductions over one dim (see reduce.h).
//
// sum over a dim: inner == 1 (a reduction over contiguous rows) takes one block per row, each
// thread summing a fixed strided subset in double and a fixed shared-memory tree combining them;
// otherwise one thread per (outer, inner) output walks k = 0..n-1 in order (coalesced over inner).
// Both orders are fixed by the launch shape, so results are bitwise reproducible run to run.
// Speed: not measured (no GPU lent); correctness first.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/reduce.h"

namespace anvil::kernels::cuda {

namespace {
constexpr int kThreads = 256;

__global__ void sum_rows_kernel(const float* in, int64_t rows, int64_t n, float* out) {
  __shared__ double partial[kThreads];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* p = in + r * n;
    double acc = 0;
    for (int64_t k = threadIdx.x; k < n; k += blockDim.x) acc += double(p[k]);
    partial[threadIdx.x] = acc;
    __syncthreads();
    for (int w = blockDim.x / 2; w > 0; w >>= 1) {
      if (int(threadIdx.x) < w) partial[threadIdx.x] += partial[threadIdx.x + w];
      __syncthreads();
    }
    if (threadIdx.x == 0) out[r] = float(partial[0]);
    __syncthreads();
  }
}

__global__ void sum_inner_kernel(const float* in, int64_t outer, int64_t n, int64_t inner, float* out) {
  const int64_t total = outer * inner;
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < total; j += int64_t(gridDim.x) * blockDim.x) {
    const int64_t o = j / inner, i = j % inner;
    const float* p = in + o * n * inner + i;
    double acc = 0;
    for (int64_t k = 0; k < n; ++k) acc += double(p[k * inner]);
    out[j] = float(acc);
  }
}

__global__ void max_kernel(const float* in, int64_t outer, int64_t n, int64_t inner, float* out, int64_t* argmax) {
  const int64_t total = outer * inner;
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < total; j += int64_t(gridDim.x) * blockDim.x) {
    const int64_t o = j / inner, i = j % inner;
    const float* p = in + o * n * inner + i;
    float best = p[0];
    int64_t bi = 0;
    for (int64_t k = 1; k < n; ++k) {
      const float v = p[k * inner];
      if (v > best) {
        best = v;
        bi = k;
      }
    }
    out[j] = best;
    argmax[j] = bi;
  }
}

__global__ void max_backward_kernel(const float* grad_out, const int64_t* argmax, int64_t outer, int64_t n,
                                    int64_t inner, float* grad_in) {
  const int64_t total = outer * n * inner;
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < total; j += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = j % inner, k = (j / inner) % n, o = j / (inner * n);
    const int64_t oi = o * inner + i;
    grad_in[j] = argmax[oi] == k ? grad_out[oi] : 0.0f;
  }
}

void check_sizes(int64_t outer, int64_t n, int64_t inner, const char* op) {
  ANVIL_CHECK_OP(outer >= 0 && n >= 0 && inner >= 0, "[", op, "] negative size (", outer, ", ", n, ", ", inner, ")");
}
}  // namespace

void sum_dim_f32(const float* in, int64_t outer, int64_t n, int64_t inner, float* out, void* stream) {
  check_sizes(outer, n, inner, "sum_dim");
  if (outer * inner == 0) return;
  cudaStream_t s = resolve_stream(stream);
  if (inner == 1) {
    ANVIL_LAUNCH(sum_rows_kernel, grid_for(outer, 1), kThreads, 0, s, in, outer, n, out);
  } else {
    ANVIL_LAUNCH(sum_inner_kernel, grid_for(outer * inner, kThreads), kThreads, 0, s, in, outer, n, inner, out);
  }
}

void max_dim_f32(const float* in, int64_t outer, int64_t n, int64_t inner, float* out, int64_t* argmax,
                 void* stream) {
  check_sizes(outer, n, inner, "max_dim");
  ANVIL_CHECK_OP(n >= 1, "[max_dim] over an empty dim");
  if (outer * inner == 0) return;
  ANVIL_LAUNCH(max_kernel, grid_for(outer * inner, kThreads), kThreads, 0, resolve_stream(stream), in, outer, n,
               inner, out, argmax);
}

void max_dim_backward_f32(const float* grad_out, const int64_t* argmax, int64_t outer, int64_t n, int64_t inner,
                          float* grad_in, void* stream) {
  check_sizes(outer, n, inner, "max_dim_backward");
  const int64_t total = outer * n * inner;
  if (total == 0) return;
  ANVIL_LAUNCH(max_backward_kernel, grid_for(total, kThreads), kThreads, 0, resolve_stream(stream), grad_out, argmax,
               outer, n, inner, grad_in);
}

}  // namespace anvil::kernels::cuda
