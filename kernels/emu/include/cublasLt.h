// Emulator shim: the cuBLAS status type kernels/cuda/cuda_check.cuh checks. No cuBLAS calls are
// emulated (the project's kernels.gemm: cublas backend is refused in this build as in any other).
#pragma once

enum cublasStatus_t { CUBLAS_STATUS_SUCCESS = 0, CUBLAS_STATUS_NOT_SUPPORTED = 15 };
