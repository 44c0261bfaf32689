// CUDA elementwise kernels: binary ops with broadcast strides, scalar ops, activations (GELU tanh,
// SiLU, SwiGLU) forward and backward, dtype casts, fill and axpy.
//
// Pointers are device pointers in the given dtype (f32, bf16 or f16; math in f32). `stream` is a
// cudaStream_t as void*, nullptr = the current device's anvil stream. Backward kernels write their
// gradients with `=` (activation gradients); axpy is the accumulate (`+=`) building block.
#pragma once

#include <cstdint>

#include "core/base/dtype.h"
#include "kernels/cpu/elementwise.h"

namespace anvil::kernels::cuda {

using BinaryOp = cpu::BinaryOp;
constexpr int kMaxBinaryDims = 8;

// out (contiguous, out_shape) = a op b; a and b are read through element strides laid over
// out_shape (0 on broadcast dims). All three share `dtype`. ndim <= kMaxBinaryDims.
void binary(BinaryOp op, DType dtype, const void* a, const int64_t* a_strides, const void* b,
            const int64_t* b_strides, void* out, const int64_t* out_shape, int ndim, void* stream);

enum class ScalarOp { Add, Mul, RSub, Div, RDiv, Pow };  // a+s, a*s, s-a, a/s, s/a, a^s
// out[i] = op(a[i], s) for n contiguous elements (out may equal a).
void scalar(ScalarOp op, DType dtype, const void* a, float s, void* out, int64_t n, void* stream);

// y = gelu(x), tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
void gelu_forward(DType dtype, const void* x, void* y, int64_t n, void* stream);
// dx = dy * gelu'(x)   (=)
void gelu_backward(DType dtype, const void* x, const void* dy, void* dx, int64_t n, void* stream);
// y = x * sigmoid(x)
void silu_forward(DType dtype, const void* x, void* y, int64_t n, void* stream);
// dx = dy * silu'(x)   (=)
void silu_backward(DType dtype, const void* x, const void* dy, void* dx, int64_t n, void* stream);

// out (rows, cols, contiguous) = silu(gate) * up. gate and up are (rows, cols) views with row
// stride in_row_stride (so they can be the two halves of one (rows, 2*cols) projection).
void swiglu_forward(DType dtype, const void* gate, const void* up, int64_t in_row_stride, void* out, int64_t rows,
                    int64_t cols, void* stream);
// dgate, dup (= ; same layout as gate/up) from dout (rows, cols, contiguous).
void swiglu_backward(DType dtype, const void* gate, const void* up, int64_t in_row_stride, const void* dout,
                     void* dgate, void* dup, int64_t rows, int64_t cols, void* stream);

// dst[i] = convert(src[i]) between f32, bf16 and f16 (round to nearest even).
void cast(const void* src, DType src_type, void* dst, DType dst_type, int64_t n, void* stream);
// dst[i] = value
void fill(DType dtype, void* dst, float value, int64_t n, void* stream);
// dst[i] += alpha * src[i]   (dst and src share dtype)
void axpy(DType dtype, void* dst, const void* src, float alpha, int64_t n, void* stream);

// Element-by-element copy over `shape` (ndim <= kMaxBinaryDims) with both sides addressed through
// element strides: makes strided views contiguous and scatters into strided destinations. Any
// dtype: elements are moved as raw elem_size-byte words (1, 2, 4 or 8); no conversion.
void strided_copy(int64_t elem_size, const void* src, const int64_t* src_strides, void* dst,
                  const int64_t* dst_strides, const int64_t* shape, int ndim, void* stream);

}  // namespace anvil::kernels::cuda
