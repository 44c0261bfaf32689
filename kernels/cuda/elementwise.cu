// CUDA elementwise kernels (see elementwise.h for the API).
//
// Math: binary add/sub/mul/div with broadcasting; scalar ops; GELU (tanh approximation)
//   y = 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3),
//   y' = 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) sqrt(2/pi) (1 + 3 * 0.044715 x^2);
// SiLU y = x s, s = sigmoid(x), y' = s (1 + x (1 - s)); SwiGLU out = silu(gate) * up.
// Trick: one grid-stride kernel per op, templated on the storage type (f32 / bf16 / f16) and the op,
// loading in f32 and rounding once on store. Broadcast binary ops take a fast flat path when both
// inputs are contiguous over the output and decompose the index through the strides otherwise.
// Gradients: activation backward kernels write dx with `=`; axpy is the `+=` primitive.
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

__device__ __forceinline__ float gelu_value(float x) { return gelu_tanh(x); }
__device__ __forceinline__ float gelu_derivative(float x) { return gelu_tanh_derivative(x); }
__device__ __forceinline__ float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }
__device__ __forceinline__ float silu_value(float x) { return x * sigmoid(x); }
__device__ __forceinline__ float silu_derivative(float x) {
  const float s = sigmoid(x);
  return s * (1.0f + x * (1.0f - s));
}

enum class Activation { Gelu, Silu };

template <typename T, Activation Act>
__global__ void activation_forward_kernel(const T* x, T* y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float v = load(x, i);
    store(y, i, Act == Activation::Gelu ? gelu_value(v) : silu_value(v));
  }
}
template <typename T, Activation Act>
__global__ void activation_backward_kernel(const T* x, const T* dy, T* dx, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float v = load(x, i);
    const float d = Act == Activation::Gelu ? gelu_derivative(v) : silu_derivative(v);
    store(dx, i, load(dy, i) * d);
  }
}

// (rows, cols) over a grid-stride flat index; input rows are in_row_stride apart.
template <typename T>
__global__ void swiglu_forward_kernel(const T* gate, const T* up, int64_t in_row_stride, T* out, int64_t rows,
                                      int64_t cols) {
  const int64_t n = rows * cols;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / cols, c = i % cols, in = r * in_row_stride + c;
    store(out, i, silu_value(load(gate, in)) * load(up, in));
  }
}
template <typename T>
__global__ void swiglu_backward_kernel(const T* gate, const T* up, int64_t in_row_stride, const T* dout, T* dgate,
                                       T* dup, int64_t rows, int64_t cols) {
  const int64_t n = rows * cols;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / cols, c = i % cols, in = r * in_row_stride + c;
    const float g = load(gate, in), u = load(up, in), d = load(dout, i);
    store(dgate, in, d * u * silu_derivative(g));
    store(dup, in, d * silu_value(g));
  }
}

template <typename Src, typename Dst>
__global__ void cast_kernel(const Src* src, Dst* dst, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    store(dst, i, load(src, i));
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

struct CopyShape {
  int ndim;
  int64_t shape[kMaxBinaryDims];
  int64_t src_strides[kMaxBinaryDims];
  int64_t dst_strides[kMaxBinaryDims];
};

template <typename W>
__global__ void strided_copy_kernel(const W* src, W* dst, int64_t n, CopyShape cs) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t rem = i, so = 0, dof = 0;
    for (int d = cs.ndim - 1; d >= 0; --d) {
      const int64_t idx = rem % cs.shape[d];
      rem /= cs.shape[d];
      so += idx * cs.src_strides[d];
      dof += idx * cs.dst_strides[d];
    }
    dst[dof] = src[so];
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

namespace {
template <Activation Act>
void activation_forward(DType dtype, const void* x, void* y, int64_t n, void* stream, const char* name) {
  check_count(n, name);
  if (n == 0) return;
  cudaStream_t s = resolve_stream(stream);
  dispatch_float(dtype, name, [&](auto tag) {
    using T = decltype(tag);
    ANVIL_LAUNCH((activation_forward_kernel<T, Act>), grid_for(n, kThreads), kThreads, 0, s,
                 static_cast<const T*>(x), static_cast<T*>(y), n);
  });
}
template <Activation Act>
void activation_backward(DType dtype, const void* x, const void* dy, void* dx, int64_t n, void* stream,
                         const char* name) {
  check_count(n, name);
  if (n == 0) return;
  cudaStream_t s = resolve_stream(stream);
  dispatch_float(dtype, name, [&](auto tag) {
    using T = decltype(tag);
    ANVIL_LAUNCH((activation_backward_kernel<T, Act>), grid_for(n, kThreads), kThreads, 0, s,
                 static_cast<const T*>(x), static_cast<const T*>(dy), static_cast<T*>(dx), n);
  });
}
}  // namespace

void gelu_forward(DType dtype, const void* x, void* y, int64_t n, void* stream) {
  activation_forward<Activation::Gelu>(dtype, x, y, n, stream, "gelu");
}
void gelu_backward(DType dtype, const void* x, const void* dy, void* dx, int64_t n, void* stream) {
  activation_backward<Activation::Gelu>(dtype, x, dy, dx, n, stream, "gelu_backward");
}
void silu_forward(DType dtype, const void* x, void* y, int64_t n, void* stream) {
  activation_forward<Activation::Silu>(dtype, x, y, n, stream, "silu");
}
void silu_backward(DType dtype, const void* x, const void* dy, void* dx, int64_t n, void* stream) {
  activation_backward<Activation::Silu>(dtype, x, dy, dx, n, stream, "silu_backward");
}

void swiglu_forward(DType dtype, const void* gate, const void* up, int64_t in_row_stride, void* out, int64_t rows,
                    int64_t cols, void* stream) {
  ANVIL_CHECK_OP(rows >= 0 && cols >= 0 && in_row_stride >= cols, "[swiglu] bad sizes rows=", rows, " cols=", cols,
                 " in_row_stride=", in_row_stride);
  if (rows * cols == 0) return;
  cudaStream_t s = resolve_stream(stream);
  dispatch_float(dtype, "swiglu", [&](auto tag) {
    using T = decltype(tag);
    ANVIL_LAUNCH((swiglu_forward_kernel<T>), grid_for(rows * cols, kThreads), kThreads, 0, s,
                 static_cast<const T*>(gate), static_cast<const T*>(up), in_row_stride, static_cast<T*>(out), rows,
                 cols);
  });
}

void swiglu_backward(DType dtype, const void* gate, const void* up, int64_t in_row_stride, const void* dout,
                     void* dgate, void* dup, int64_t rows, int64_t cols, void* stream) {
  ANVIL_CHECK_OP(rows >= 0 && cols >= 0 && in_row_stride >= cols, "[swiglu_backward] bad sizes rows=", rows,
                 " cols=", cols, " in_row_stride=", in_row_stride);
  if (rows * cols == 0) return;
  cudaStream_t s = resolve_stream(stream);
  dispatch_float(dtype, "swiglu_backward", [&](auto tag) {
    using T = decltype(tag);
    ANVIL_LAUNCH((swiglu_backward_kernel<T>), grid_for(rows * cols, kThreads), kThreads, 0, s,
                 static_cast<const T*>(gate), static_cast<const T*>(up), in_row_stride, static_cast<const T*>(dout),
                 static_cast<T*>(dgate), static_cast<T*>(dup), rows, cols);
  });
}

void cast(const void* src, DType src_type, void* dst, DType dst_type, int64_t n, void* stream) {
  check_count(n, "cast");
  if (n == 0) return;
  cudaStream_t s = resolve_stream(stream);
  dispatch_float(src_type, "cast", [&](auto src_tag) {
    using Src = decltype(src_tag);
    dispatch_float(dst_type, "cast", [&](auto dst_tag) {
      using Dst = decltype(dst_tag);
      ANVIL_LAUNCH((cast_kernel<Src, Dst>), grid_for(n, kThreads), kThreads, 0, s, static_cast<const Src*>(src),
                   static_cast<Dst*>(dst), n);
    });
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

void strided_copy(int64_t elem_size, const void* src, const int64_t* src_strides, void* dst,
                  const int64_t* dst_strides, const int64_t* shape, int ndim, void* stream) {
  ANVIL_CHECK_OP(ndim >= 0 && ndim <= kMaxBinaryDims, "[strided_copy] CUDA kernel supports up to ", kMaxBinaryDims,
                 " dims, got ", ndim);
  CopyShape cs{};
  cs.ndim = ndim;
  int64_t n = 1;
  for (int d = 0; d < ndim; ++d) {
    ANVIL_CHECK_OP(shape[d] >= 0, "[strided_copy] negative extent ", shape[d], " in dim ", d);
    cs.shape[d] = shape[d];
    cs.src_strides[d] = src_strides[d];
    cs.dst_strides[d] = dst_strides[d];
    n *= shape[d];
  }
  if (n == 0) return;
  cudaStream_t s = resolve_stream(stream);
  const unsigned g = grid_for(n, kThreads);
  switch (elem_size) {
    case 1:
      ANVIL_LAUNCH(strided_copy_kernel<uint8_t>, g, kThreads, 0, s, static_cast<const uint8_t*>(src),
                   static_cast<uint8_t*>(dst), n, cs);
      return;
    case 2:
      ANVIL_LAUNCH(strided_copy_kernel<uint16_t>, g, kThreads, 0, s, static_cast<const uint16_t*>(src),
                   static_cast<uint16_t*>(dst), n, cs);
      return;
    case 4:
      ANVIL_LAUNCH(strided_copy_kernel<uint32_t>, g, kThreads, 0, s, static_cast<const uint32_t*>(src),
                   static_cast<uint32_t*>(dst), n, cs);
      return;
    case 8:
      ANVIL_LAUNCH(strided_copy_kernel<uint64_t>, g, kThreads, 0, s, static_cast<const uint64_t*>(src),
                   static_cast<uint64_t*>(dst), n, cs);
      return;
    default: break;
  }
  ANVIL_CHECK_OP(false, "[strided_copy] element size ", elem_size, " is not 1, 2, 4 or 8 bytes");
}

}  // namespace anvil::kernels::cuda
