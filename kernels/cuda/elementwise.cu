// CUDA elementwise kernels (see elementwise.h for the API).
//
// Math: binary add/sub/mul/div with broadcasting; scalar ops; fill; axpy.
// Trick: one grid-stride kernel per op, templated on the storage type (f32 / bf16 / f16) and the op,
// loading in f32 and rounding once on store. Broadcast binary ops take a fast flat path when both
// inputs are contiguous over the output and decompose the index through the strides otherwise.
// Outputs: binary, scalar and fill write with `=`; axpy is the `+=` primitive.
// Speed: not yet measured (no GPU lent).
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/elementwise.h"

namespace anvil::kernels::cuda {

namespace {
constexpr int kThreads = 256;

struct BroadcastShape {
  int ndim;
  int64_t shape[kMaxBinaryDims];
  int64_t a_strides[kMaxBinaryDims];
  int64_t b_strides[kMaxBinaryDims];
};

template <BinaryOp Op>
__device__ __forceinline__ float apply_binary(float x, float y) {
  if constexpr (Op == BinaryOp::Add) return x + y;
  if constexpr (Op == BinaryOp::Sub) return x - y;
  if constexpr (Op == BinaryOp::Mul) return x * y;
  return x / y;
}

template <typename T, BinaryOp Op>
__global__ void binary_contiguous_kernel(const T* a, const T* b, T* out, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    store(out, i, apply_binary<Op>(load(a, i), load(b, i)));
  }
}

template <typename T, BinaryOp Op>
__global__ void binary_strided_kernel(const T* a, const T* b, T* out, int64_t n, BroadcastShape bs) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t rem = i, ao = 0, bo = 0;
    for (int d = bs.ndim - 1; d >= 0; --d) {
      const int64_t idx = rem % bs.shape[d];
      rem /= bs.shape[d];
      ao += idx * bs.a_strides[d];
      bo += idx * bs.b_strides[d];
    }
    store(out, i, apply_binary<Op>(load(a, ao), load(b, bo)));
  }
}

template <typename T, BinaryOp Op>
void launch_binary(const void* a, const int64_t* as, const void* b, const int64_t* bstr, void* out,
                   const int64_t* shape, int ndim, cudaStream_t s) {
  BroadcastShape bs{};
  bs.ndim = ndim;
  int64_t n = 1;
  bool contiguous = true;
  for (int d = ndim - 1; d >= 0; --d) {
    bs.shape[d] = shape[d];
    bs.a_strides[d] = as[d];
    bs.b_strides[d] = bstr[d];
    // A dim of extent 1 never moves the index, so its stride does not matter.
    if (shape[d] != 1 && (as[d] != n || bstr[d] != n)) contiguous = false;
    n *= shape[d];
  }
  if (n == 0) return;
  const auto* pa = static_cast<const T*>(a);
  const auto* pb = static_cast<const T*>(b);
  auto* po = static_cast<T*>(out);
  if (contiguous) {
    ANVIL_LAUNCH((binary_contiguous_kernel<T, Op>), grid_for(n, kThreads), kThreads, 0, s, pa, pb, po, n);
  } else {
    ANVIL_LAUNCH((binary_strided_kernel<T, Op>), grid_for(n, kThreads), kThreads, 0, s, pa, pb, po, n, bs);
  }
}

template <typename T, ScalarOp Op>
__global__ void scalar_kernel(const T* a, float s, T* out, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float x = load(a, i);
    float y;
    if constexpr (Op == ScalarOp::Add) y = x + s;
    else if constexpr (Op == ScalarOp::Mul) y = x * s;
    else if constexpr (Op == ScalarOp::RSub) y = s - x;
    else if constexpr (Op == ScalarOp::Div) y = x / s;
    else if constexpr (Op == ScalarOp::RDiv) y = s / x;
    else y = powf(x, s);
    store(out, i, y);
  }
}

template <typename T>
__global__ void fill_kernel(T* dst, float value, int64_t n) {
  const T v = from_f32<T>(value);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    dst[i] = v;
  }
}

template <typename T>
__global__ void axpy_kernel(T* dst, const T* src, float alpha, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    store(dst, i, load(dst, i) + alpha * load(src, i));
  }
}

void check_count(int64_t n, const char* op) { ANVIL_CHECK_OP(n >= 0, "[", op, "] negative element count ", n); }
}  // namespace

void binary(BinaryOp op, DType dtype, const void* a, const int64_t* a_strides, const void* b,
            const int64_t* b_strides, void* out, const int64_t* out_shape, int ndim, void* stream) {
  ANVIL_CHECK_OP(ndim >= 0 && ndim <= kMaxBinaryDims, "[binary] CUDA kernel supports up to ", kMaxBinaryDims,
                 " dims, got ", ndim);
  cudaStream_t s = resolve_stream(stream);
  dispatch_float(dtype, "binary", [&](auto tag) {
    using T = decltype(tag);
    switch (op) {
      case BinaryOp::Add: launch_binary<T, BinaryOp::Add>(a, a_strides, b, b_strides, out, out_shape, ndim, s); break;
      case BinaryOp::Sub: launch_binary<T, BinaryOp::Sub>(a, a_strides, b, b_strides, out, out_shape, ndim, s); break;
      case BinaryOp::Mul: launch_binary<T, BinaryOp::Mul>(a, a_strides, b, b_strides, out, out_shape, ndim, s); break;
      case BinaryOp::Div: launch_binary<T, BinaryOp::Div>(a, a_strides, b, b_strides, out, out_shape, ndim, s); break;
    }
  });
}

void scalar(ScalarOp op, DType dtype, const void* a, float s, void* out, int64_t n, void* stream) {
  check_count(n, "scalar");
  cudaStream_t st = resolve_stream(stream);
  dispatch_float(dtype, "scalar", [&](auto tag) {
    using T = decltype(tag);
    const auto* pa = static_cast<const T*>(a);
    auto* po = static_cast<T*>(out);
    const unsigned g = grid_for(n, kThreads);
    if (n == 0) return;
    switch (op) {
      case ScalarOp::Add: ANVIL_LAUNCH((scalar_kernel<T, ScalarOp::Add>), g, kThreads, 0, st, pa, s, po, n); break;
      case ScalarOp::Mul: ANVIL_LAUNCH((scalar_kernel<T, ScalarOp::Mul>), g, kThreads, 0, st, pa, s, po, n); break;
      case ScalarOp::RSub: ANVIL_LAUNCH((scalar_kernel<T, ScalarOp::RSub>), g, kThreads, 0, st, pa, s, po, n); break;
      case ScalarOp::Div: ANVIL_LAUNCH((scalar_kernel<T, ScalarOp::Div>), g, kThreads, 0, st, pa, s, po, n); break;
      case ScalarOp::RDiv: ANVIL_LAUNCH((scalar_kernel<T, ScalarOp::RDiv>), g, kThreads, 0, st, pa, s, po, n); break;
      case ScalarOp::Pow: ANVIL_LAUNCH((scalar_kernel<T, ScalarOp::Pow>), g, kThreads, 0, st, pa, s, po, n); break;
    }
  });
}

void fill(DType dtype, void* dst, float value, int64_t n, void* stream) {
  check_count(n, "fill");
  if (n == 0) return;
  cudaStream_t s = resolve_stream(stream);
  dispatch_float(dtype, "fill", [&](auto tag) {
    using T = decltype(tag);
    ANVIL_LAUNCH((fill_kernel<T>), grid_for(n, kThreads), kThreads, 0, s, static_cast<T*>(dst), value, n);
  });
}

void axpy(DType dtype, void* dst, const void* src, float alpha, int64_t n, void* stream) {
  check_count(n, "axpy");
  if (n == 0) return;
  cudaStream_t s = resolve_stream(stream);
  dispatch_float(dtype, "axpy", [&](auto tag) {
    using T = decltype(tag);
    ANVIL_LAUNCH((axpy_kernel<T>), grid_for(n, kThreads), kThreads, 0, s, static_cast<T*>(dst),
                 static_cast<const T*>(src), alpha, n);
  });
}

}  // namespace anvil::kernels::cuda
