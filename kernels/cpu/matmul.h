// CPU GEMM over f32: C (M, N) = A (M, K) @ B (K, N) with arbitrary row/column strides on A and B,
// so transposed operands are read in place. Blocked: a KC x NC panel of B is packed contiguous,
// and four rows of A at a time stream through it (the inner loop over N vectorizes).
#pragma once

#include <cstdint>

namespace anvil::kernels::cpu {

// C is row-major with leading dimension ldc. accumulate: C += A @ B, else C = A @ B.
void gemm_f32(int64_t M, int64_t N, int64_t K, const float* A, int64_t a_row_stride, int64_t a_col_stride,
              const float* B, int64_t b_row_stride, int64_t b_col_stride, float* C, int64_t ldc, bool accumulate);

}  // namespace anvil::kernels::cpu
