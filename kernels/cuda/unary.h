// CUDA unary math and activation kernels: the same ops and derivative conventions as
// kernels/cpu/unary.h (backward reads y for exp/tanh/sqrt and x otherwise).
// Plain C++: pointers are device pointers, stream is a cudaStream_t as void* (nullptr = anvil's).
#pragma once

#include <cstdint>

#include "kernels/cpu/unary.h"

namespace anvil::kernels::cuda {

using UnaryOp = cpu::UnaryOp;
// out (n) = op(in (n)), contiguous f32   (=).
void unary_forward_f32(UnaryOp op, const float* in, float* out, int64_t n, void* stream);
// grad_in = grad_out * op'(saved), saved = y or x as cpu::unary_saves_output(op) says   (=)
void unary_backward_f32(UnaryOp op, const float* saved, const float* grad_out, float* grad_in, int64_t n,
                        void* stream);

}  // namespace anvil::kernels::cuda
