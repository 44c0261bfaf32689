// Unary math and activation kernels over contiguous f32 buffers: forward and backward.
//
// Backward takes one saved buffer, whichever the derivative is cheapest from: the output y for
// exp (y), tanh (1 - y^2) and sqrt (0.5 / y); the input x for log, gelu, silu and relu.
// unary_saves_output() says which one the op layer must keep.
#pragma once

#include <cstdint>

namespace anvil::kernels::cpu {

enum class UnaryOp { Exp, Log, Tanh, Sqrt, Gelu, Silu, Relu };

// True when the backward of `op` reads the forward output; false when it reads the input.
bool unary_saves_output(UnaryOp op);

// out (n) = op(in (n))   (=).
void unary_forward_f32(UnaryOp op, const float* in, float* out, int64_t n);
// grad_in (n) = grad_out (n) * op'(x), with op' computed from `saved` (x or y, see above)   (=).
void unary_backward_f32(UnaryOp op, const float* saved, const float* grad_out, float* grad_in, int64_t n);

}  // namespace anvil::kernels::cpu
