// CUDA fused AdamW and global gradient norm (see optimizer.h for the API).
//
// Math: torch.optim.AdamW (decoupled weight decay, bias-corrected moments); global norm
//   ||g|| = sqrt(sum_t sum_i g_t[i]^2).
// Trick: AdamW is one grid-stride pass reading p, g, m, v once and writing p, m, v and the
//   optional bf16/f16 copy, with the bias corrections computed once on the host in double.
//   The norm is two passes with a fixed grid of kNormBlocks blocks per tensor (not tied to the
//   GPU's SM count), each writing one partial; a single block then sums all partials in double
//   in index order. Same inputs give the same bits on any GPU; no atomics. The clip coefficient
//   stays on the device and feeds AdamW through grad_scale_device: no host synchronization.
// Gradients: parameters and moments are updated in place; partials are written with `=`.
// Speed: not yet measured (no GPU lent).
#include <cmath>

#include "kernels/cuda/optimizer.h"
#include "kernels/cuda/common.cuh"

namespace anvil::kernels::cuda {

namespace {
constexpr int kAdamThreads = 256;
constexpr int kNormBlocks = 256;
constexpr int kNormThreads = 256;
constexpr float kClipEpsilon = 1e-6f;

template <typename G, typename C>
__global__ void adamw_kernel(float* params, const G* grads, float* m, float* v, C* copy, int64_t n, float lr,
                             float beta1, float beta2, float eps, float weight_decay, float bias1, float bias2_sqrt,
                             float grad_scale, const float* grad_scale_device) {
  const float scale = grad_scale * (grad_scale_device ? *grad_scale_device : 1.0f);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float g = load(grads, i) * scale;
    float p = params[i];
    p -= lr * weight_decay * p;
    const float mi = beta1 * m[i] + (1.0f - beta1) * g;
    const float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    // m_hat / (sqrt(v_hat) + eps) with m_hat = m / bias1, sqrt(v_hat) = sqrt(v) / bias2_sqrt
    p -= lr * (mi / bias1) / (sqrtf(vi) / bias2_sqrt + eps);
    params[i] = p;
    if (copy) store(copy, i, p);
  }
}

__global__ void sgd_kernel(float* params, const float* grads, float* buf, int64_t n, float lr, float momentum,
                           float weight_decay, bool nesterov) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float p = params[i];
    const float g = grads[i] + weight_decay * p;
    if (buf == nullptr) {
      params[i] = p - lr * g;
      continue;
    }
    const float b = momentum * buf[i] + g;
    buf[i] = b;
    params[i] = p - lr * (nesterov ? g + momentum * b : b);
  }
}

template <typename T>
__global__ void __launch_bounds__(kNormThreads) sumsq_partials_kernel(const T* g, int64_t n, float* partials) {
  __shared__ float scratch[kWarpSize];
  float acc = 0.0f;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float x = load(g, i);
    acc += x * x;
  }
  acc = block_sum(acc, scratch);
  if (threadIdx.x == 0) partials[blockIdx.x] = acc;
}

__global__ void __launch_bounds__(kNormThreads) norm_finish_kernel(const float* partials, int64_t count,
                                                                   float* norm_out, float max_norm,
                                                                   float* clip_scale_out) {
  __shared__ double sums[kNormThreads];
  double acc = 0.0;
  for (int64_t i = threadIdx.x; i < count; i += kNormThreads) acc += double(partials[i]);
  sums[threadIdx.x] = acc;
  __syncthreads();
  for (int stride = kNormThreads / 2; stride > 0; stride >>= 1) {  // fixed tree: deterministic
    if (threadIdx.x < stride) sums[threadIdx.x] += sums[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    const float norm = float(sqrt(sums[0]));
    if (norm_out) *norm_out = norm;
    if (clip_scale_out) *clip_scale_out = max_norm > 0.0f ? fminf(1.0f, max_norm / (norm + kClipEpsilon)) : 1.0f;
  }
}
}  // namespace

void adamw_step(const AdamWArgs& a) {
  ANVIL_CHECK_OP(a.n >= 0 && a.step >= 1, "[adamw] bad n=", a.n, " or step=", a.step, " (steps count from 1)");
  ANVIL_CHECK_OP(a.params && a.grads && a.m && a.v, "[adamw] missing params, grads or moments");
  if (a.n == 0) return;
  cudaStream_t s = resolve_stream(a.stream);
  const float bias1 = float(1.0 - std::pow(double(a.beta1), double(a.step)));
  const float bias2_sqrt = float(std::sqrt(1.0 - std::pow(double(a.beta2), double(a.step))));
  dispatch_float(a.grad_dtype, "adamw", [&](auto grad_tag) {
    using G = decltype(grad_tag);
    auto run = [&](auto copy_tag) {
      using C = decltype(copy_tag);
      ANVIL_LAUNCH((adamw_kernel<G, C>), grid_for(a.n, kAdamThreads), kAdamThreads, 0, s, a.params,
                   static_cast<const G*>(a.grads), a.m, a.v, static_cast<C*>(a.param_copy), a.n, a.lr, a.beta1,
                   a.beta2, a.eps, a.weight_decay, bias1, bias2_sqrt, a.grad_scale, a.grad_scale_device);
    };
    if (a.param_copy == nullptr) {
      run(float{});  // copy pointer is null: no copy written
    } else {
      dispatch_half(a.copy_dtype, "adamw param copy", run);
    }
  });
}

int64_t grad_norm_partials_per_tensor() { return kNormBlocks; }

void grad_sumsq_partials(DType dtype, const void* g, int64_t n, float* partials, void* stream) {
  ANVIL_CHECK_OP(n >= 0 && partials != nullptr, "[grad_norm] bad n=", n, " or missing partials");
  cudaStream_t s = resolve_stream(stream);
  dispatch_float(dtype, "grad_norm", [&](auto tag) {
    using T = decltype(tag);
    // Always the full fixed grid, even for tiny tensors: idle blocks write 0 partials.
    ANVIL_LAUNCH((sumsq_partials_kernel<T>), kNormBlocks, kNormThreads, 0, s, static_cast<const T*>(g), n, partials);
  });
}

void grad_norm_finish(const float* partials, int64_t count, float* norm_out, float max_norm, float* clip_scale_out,
                      void* stream) {
  ANVIL_CHECK_OP(count >= 0 && (partials != nullptr || count == 0), "[grad_norm] bad partial count ", count);
  cudaStream_t s = resolve_stream(stream);
  ANVIL_LAUNCH(norm_finish_kernel, 1, kNormThreads, 0, s, partials, count, norm_out, max_norm, clip_scale_out);
}

void sgd_step(float* params, const float* grads, float* momentum_buf, int64_t n, float lr, float momentum,
              float weight_decay, bool nesterov, void* stream) {
  ANVIL_CHECK_OP(n >= 0, "[sgd] negative element count ", n);
  ANVIL_CHECK_OP(momentum == 0.0f || momentum_buf != nullptr, "[sgd] momentum ", momentum, " without a buffer");
  if (n == 0) return;
  ANVIL_LAUNCH(sgd_kernel, grid_for(n, kAdamThreads), kAdamThreads, 0, resolve_stream(stream), params, grads,
               momentum > 0.0f ? momentum_buf : nullptr, n, lr, momentum, weight_decay, nesterov);
}

}  // namespace anvil::kernels::cuda
