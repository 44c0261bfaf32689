// CUDA GEMM (the matmul family; kernels/cpu/matmul.h is the CPU side):
// C (M, N) = epilogue(alpha * op(A) @ op(B) + beta * C), batched with strides.
//
// Backends: a hand-written tensor-core kernel (bf16/f16 in, fp32 accumulate) and a simple tiled
// fp32-FMA kernel that runs any shape, stride and dtype (f32 too) as the fallback.
// A third, for f32 inputs when the caller allows TF32 (GemmArgs::allow_tf32, PyTorch's allow_tf32):
// TF32 tensor cores (mma.m16n8k8; 10-bit mantissa products, f32 accumulation), any shape and stride.
// GemmBackend::Auto takes the tensor-core kernel when gemm_tensor_core_can_run(), else the tf32
// kernel for f32 inputs with allow_tf32, else the simple kernel.
// Plain C++: pointers are device pointers, stream is a cudaStream_t as void* (nullptr = anvil's).
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/base/dtype.h"

namespace anvil::kernels::cuda {

enum class GemmBackend { Auto, TensorCore, Simple, Tf32 };
// Applied after alpha/beta: Bias adds bias[n]; BiasGelu then applies GELU (tanh).
enum class GemmEpilogue { None, Bias, BiasGelu };

struct GemmArgs {
  int64_t M = 0, N = 0, K = 0;
  DType input_dtype = DType::BF16;  // A and B; f32 runs on the simple backend only
  // A not transposed: row-major (M, K), element (m, k) at A[m * lda + k].
  // A transposed: stored row-major (K, M), element (m, k) at A[k * lda + m].
  const void* A = nullptr;
  int64_t lda = 0;
  bool a_transposed = false;
  // B not transposed: row-major (K, N), element (k, n) at B[k * ldb + n].
  // B transposed: stored row-major (N, K) (e.g. a Linear weight), element (k, n) at B[n * ldb + k].
  const void* B = nullptr;
  int64_t ldb = 0;
  bool b_transposed = false;
  // C row-major (M, N), element (m, n) at C[m * ldc + n]; f32 or input_dtype.
  void* C = nullptr;
  int64_t ldc = 0;
  DType output_dtype = DType::F32;
  int64_t batch = 1;  // matrices i = 0..batch-1 start at A + i * batch_stride_a (elements), etc.
  int64_t batch_stride_a = 0, batch_stride_b = 0, batch_stride_c = 0;
  bool allow_tf32 = false;  // f32 inputs may run on TF32 tensor cores (Auto picks GemmBackend::Tf32)
  float alpha = 1.0f;
  float beta = 0.0f;  // beta = 1 accumulates into C (`+=`, weight gradients); C is not read when 0
  GemmEpilogue epilogue = GemmEpilogue::None;
  const float* bias = nullptr;  // (N) f32, for Bias / BiasGelu
  void* stream = nullptr;
};

// True when the tensor-core kernel applies: bf16/f16 inputs, M, N, K, leading dimensions and batch
// strides multiples of 8, A/B/C 16-byte aligned, output f32 or the input dtype.
bool gemm_tensor_core_can_run(const GemmArgs& args);

// Runs the GEMM and returns the backend used. Writes C with `=` when beta == 0 and accumulates
// (C = ... + beta * C) otherwise, like the CPU gemm_f32's accumulate flag. A backend named
// explicitly that cannot run the problem throws OpError; Auto never does for valid arguments.
GemmBackend gemm(const GemmArgs& args, GemmBackend backend = GemmBackend::Auto);

}  // namespace anvil::kernels::cuda
