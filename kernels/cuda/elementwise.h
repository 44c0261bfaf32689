// CUDA elementwise kernels: binary ops with broadcast strides, scalar ops, fill and axpy
// (activations are in unary.h, casts and strided copies in convert.h).
//
// Pointers are device pointers in the given dtype (f32, bf16 or f16; math in f32). `stream` is a
// cudaStream_t as void*, nullptr = the current device's anvil stream. axpy is the accumulate (`+=`)
// building block; every other kernel writes its output with `=`.
#pragma once

#include <cstdint>

#include "core/base/dtype.h"
#include "kernels/cpu/elementwise.h"

namespace anvil::kernels::cuda {

using BinaryOp = cpu::BinaryOp;
constexpr int kMaxBinaryDims = 8;

// out (contiguous, out_shape) = a op b   (=); a and b are read through element strides laid over
// out_shape (0 on broadcast dims). All three share `dtype`. ndim <= kMaxBinaryDims.
void binary(BinaryOp op, DType dtype, const void* a, const int64_t* a_strides, const void* b,
            const int64_t* b_strides, void* out, const int64_t* out_shape, int ndim, void* stream);

enum class ScalarOp { Add, Mul, RSub, Div, RDiv, Pow };  // a+s, a*s, s-a, a/s, s/a, a^s
// out[i] = op(a[i], s) for n contiguous elements   (=; out may equal a)
void scalar(ScalarOp op, DType dtype, const void* a, float s, void* out, int64_t n, void* stream);

// dst[i] = value   (=)
void fill(DType dtype, void* dst, float value, int64_t n, void* stream);
// dst[i] += alpha * src[i]   (+=; dst and src share dtype)
void axpy(DType dtype, void* dst, const void* src, float alpha, int64_t n, void* stream);

}  // namespace anvil::kernels::cuda
