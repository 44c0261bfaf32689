// Elementwise CPU kernels over f32: binary ops with broadcasting (strides of 0 on broadcast dims),
// scalar ops and the in-place updates optimizers use.
#pragma once

#include <cstdint>

namespace anvil::kernels::cpu {

enum class BinaryOp { Add, Sub, Mul, Div };

// out (contiguous, out_shape) = a op b, where a and b are read through strides laid over out_shape
// (0 on broadcast dims)   (=).
void binary_f32(BinaryOp op, const float* a, const int64_t* a_strides, const float* b, const int64_t* b_strides,
                float* out, const int64_t* out_shape, int ndim);

void add_scalar_f32(const float* a, float s, float* out, int64_t n);  // out = a + s   (=)
void mul_scalar_f32(const float* a, float s, float* out, int64_t n);  // out = a * s   (=)
void axpy_f32(float* dst, const float* src, float alpha, int64_t n);  // dst += alpha * src   (+=)
void scale_f32(float* dst, float s, int64_t n);  // dst *= s   (in place)

}  // namespace anvil::kernels::cpu
