// The cuBLASLt alternative behind GemmBackend::CublasLt (see gemm.h for the argument contract).
//
// Trick: cuBLASLt is column-major. A row-major C (M, N) is the column-major C^T (N, M), and
// C^T = op(B)^T op(A)^T, so we hand cuBLASLt B as its first operand and A as its second, m = N,
// n = M, and keep each operand's own transpose flag: a row-major (K, N) B is column-major (N, K)
// with leading dimension ldb, exactly the "not transposed" first operand. The bias epilogue adds a
// per-row vector of C^T, which is our per-column bias[n].
// One handle per device, created on first use; the heuristic picks the first algorithm that fits
// the caller's workspace (kernels never allocate). Speed: not yet measured (no GPU lent).
#include <cublasLt.h>

#include <mutex>
#include <vector>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/gemm.h"

namespace anvil::kernels::cuda {

namespace {
std::mutex g_handle_mutex;
std::vector<cublasLtHandle_t> g_handles;  // index = device

cublasLtHandle_t handle_for_current_device() {
  const int device = current_device();
  std::lock_guard<std::mutex> lock(g_handle_mutex);
  if (size_t(device) >= g_handles.size()) g_handles.resize(size_t(device) + 1, nullptr);
  if (g_handles[size_t(device)] == nullptr) ANVIL_CUDA_CHECK(cublasLtCreate(&g_handles[size_t(device)]));
  return g_handles[size_t(device)];
}

cudaDataType_t cuda_type(DType t) {
  switch (t) {
    case DType::F32: return CUDA_R_32F;
    case DType::BF16: return CUDA_R_16BF;
    case DType::F16: return CUDA_R_16F;
    default: break;
  }
  throw OpError("[gemm] cuBLASLt path has no type for " + std::string(dtype_name(t)));
}

// Owns the cuBLASLt descriptors of one call.
struct LtDescriptors {
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulPreference_t pref = nullptr;
  ~LtDescriptors() {
    if (pref) cublasLtMatmulPreferenceDestroy(pref);
    if (c) cublasLtMatrixLayoutDestroy(c);
    if (b) cublasLtMatrixLayoutDestroy(b);
    if (a) cublasLtMatrixLayoutDestroy(a);
    if (op) cublasLtMatmulDescDestroy(op);
  }
};

void set_batch(cublasLtMatrixLayout_t layout, int64_t batch, int64_t stride) {
  const int32_t count = int32_t(batch);
  ANVIL_CUDA_CHECK(cublasLtMatrixLayoutSetAttribute(layout, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count, sizeof(count)));
  ANVIL_CUDA_CHECK(
      cublasLtMatrixLayoutSetAttribute(layout, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride, sizeof(stride)));
}
}  // namespace

bool gemm_cublaslt_can_run(const GemmArgs& a) {
  if (a.input_dtype != DType::BF16 && a.input_dtype != DType::F16) return false;
  if (a.output_dtype != DType::F32 && a.output_dtype != a.input_dtype) return false;
  auto aligned = [](const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; };
  return aligned(a.A) && aligned(a.B) && aligned(a.C) && a.batch <= INT32_MAX;
}

void gemm_cublaslt(const GemmArgs& a) {
  cudaStream_t stream = resolve_stream(a.stream);
  cublasLtHandle_t handle = handle_for_current_device();
  LtDescriptors d;
  const cudaDataType_t in_type = cuda_type(a.input_dtype), out_type = cuda_type(a.output_dtype);
  ANVIL_CUDA_CHECK(cublasLtMatmulDescCreate(&d.op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  // First operand = our B, second = our A (see banner).
  const cublasOperation_t op_first = a.b_transposed ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_second = a.a_transposed ? CUBLAS_OP_T : CUBLAS_OP_N;
  ANVIL_CUDA_CHECK(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_TRANSA, &op_first, sizeof(op_first)));
  ANVIL_CUDA_CHECK(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_TRANSB, &op_second, sizeof(op_second)));
  if (a.epilogue != GemmEpilogue::None) {
    const cublasLtEpilogue_t epi = a.epilogue == GemmEpilogue::Bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_GELU_BIAS;
    ANVIL_CUDA_CHECK(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof(epi)));
    ANVIL_CUDA_CHECK(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &a.bias, sizeof(a.bias)));
    const cudaDataType_t bias_type = CUDA_R_32F;
    ANVIL_CUDA_CHECK(
        cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type, sizeof(bias_type)));
  }
  // Column-major shapes (rows, cols) as stored: first operand B^(T) and second operand A^(T).
  const uint64_t first_rows = a.b_transposed ? a.K : a.N, first_cols = a.b_transposed ? a.N : a.K;
  const uint64_t second_rows = a.a_transposed ? a.M : a.K, second_cols = a.a_transposed ? a.K : a.M;
  ANVIL_CUDA_CHECK(cublasLtMatrixLayoutCreate(&d.a, in_type, first_rows, first_cols, a.ldb));
  ANVIL_CUDA_CHECK(cublasLtMatrixLayoutCreate(&d.b, in_type, second_rows, second_cols, a.lda));
  ANVIL_CUDA_CHECK(cublasLtMatrixLayoutCreate(&d.c, out_type, a.N, a.M, a.ldc));
  if (a.batch > 1) {
    set_batch(d.a, a.batch, a.batch_stride_b);
    set_batch(d.b, a.batch, a.batch_stride_a);
    set_batch(d.c, a.batch, a.batch_stride_c);
  }
  ANVIL_CUDA_CHECK(cublasLtMatmulPreferenceCreate(&d.pref));
  const size_t workspace = a.workspace ? a.workspace_bytes : 0;
  ANVIL_CUDA_CHECK(cublasLtMatmulPreferenceSetAttribute(d.pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace,
                                                        sizeof(workspace)));
  cublasLtMatmulHeuristicResult_t heuristic{};
  int found = 0;
  ANVIL_CUDA_CHECK(cublasLtMatmulAlgoGetHeuristic(handle, d.op, d.a, d.b, d.c, d.c, d.pref, 1, &heuristic, &found));
  if (found == 0) {
    throw RuntimeFailure("[gemm] cuBLASLt found no algorithm for M=" + std::to_string(a.M) + " N=" +
                         std::to_string(a.N) + " K=" + std::to_string(a.K) + " with " + std::to_string(workspace) +
                         " bytes of workspace");
  }
  ANVIL_CUDA_CHECK(cublasLtMatmul(handle, d.op, &a.alpha, a.B, d.a, a.A, d.b, &a.beta, a.C, d.c, a.C, d.c,
                                  &heuristic.algo, a.workspace, workspace, stream));
}

}  // namespace anvil::kernels::cuda
