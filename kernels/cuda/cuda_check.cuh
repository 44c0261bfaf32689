// The one check macro every CUDA runtime and cuBLASLt call in kernels/cuda goes through, and the
// launch helper that checks cudaGetLastError() right after each kernel launch.
//
// A failure throws anvil::RuntimeFailure naming the expression (or kernel), file:line and, for a
// launch, the grid, block and dynamic shared-memory sizes, so a bad launch configuration is
// reported at its launch instead of surfacing at the next synchronizing call.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <string>

#include "core/base/error.h"

namespace anvil::kernels::cuda::detail {

[[noreturn]] void throw_cuda_error(const char* expr, const char* file, int line, const std::string& what);

inline void check(cudaError_t status, const char* expr, const char* file, int line) {
  if (status != cudaSuccess) {
    throw_cuda_error(expr, file, line, std::string(cudaGetErrorName(status)) + ": " + cudaGetErrorString(status));
  }
}
inline void check(cublasStatus_t status, const char* expr, const char* file, int line) {
  if (status != CUBLAS_STATUS_SUCCESS) {
    throw_cuda_error(expr, file, line, std::string("cuBLAS status ") + std::to_string(int(status)));
  }
}

// `func` is the kernel, for a diagnosis of the launch configuration (shared memory, block size)
// against what the device and the kernel allow; it is only read on this failure path.
[[noreturn]] void throw_launch_error(cudaError_t status, const char* kernel, const char* file, int line, dim3 grid,
                                     dim3 block, size_t smem_bytes, const void* func);

// Whether every launch waits for its kernel and reports a fault at that kernel (the CUDA error of a
// faulting kernel otherwise surfaces at some later call, e.g. a cudaMalloc): on in debug builds,
// and in any build with ANVIL_SYNC_LAUNCHES=1 (slow; for finding a fault, like CUDA_LAUNCH_BLOCKING).
bool sync_launches();

// Launches `kernel` and checks the launch itself (bad configuration, missing image). Execution
// errors surface at the next synchronizing call, which is checked too.
template <typename... Params, typename... Args>
void launch(const char* name, const char* file, int line, void (*kernel)(Params...), dim3 grid, dim3 block,
            size_t smem_bytes, cudaStream_t stream, Args&&... args) {
  if (grid.x == 0 || grid.y == 0 || grid.z == 0) return;  // empty problem: nothing to launch
#if defined(ANVIL_CUDA_EMULATE)
  // The emulator runs the call once per emulated thread (kernels/emu/emu.h); it records its error
  // where cudaGetLastError() finds it, as a launch does.
  auto call = [&]() { kernel(static_cast<Params>(args)...); };
  using Call = decltype(call);
  ::anvil::emu::launch(reinterpret_cast<const void*>(kernel), name, grid, block, smem_bytes, stream,
                       [](void* c) { (*static_cast<Call*>(c))(); }, &call);
#else
  kernel<<<grid, block, smem_bytes, stream>>>(static_cast<Params>(args)...);
#endif
  cudaError_t status = cudaGetLastError();
  if (status == cudaSuccess && sync_launches()) status = cudaStreamSynchronize(stream);
  if (status != cudaSuccess)
    throw_launch_error(status, name, file, line, grid, block, smem_bytes, reinterpret_cast<const void*>(kernel));
}

}  // namespace anvil::kernels::cuda::detail

// Checks a cudaError_t or cublasStatus_t expression.
#define ANVIL_CUDA_CHECK(expr) ::anvil::kernels::cuda::detail::check((expr), #expr, __FILE__, __LINE__)

// Launches a kernel and checks it. Wrap a template kernel name in parentheses:
//   ANVIL_LAUNCH((gelu_kernel<float>), grid, block, 0, stream, x, y, n);
#define ANVIL_LAUNCH(kernel, grid, block, smem, stream, ...)                                                 \
  ::anvil::kernels::cuda::detail::launch(#kernel, __FILE__, __LINE__, kernel, (grid), (block), (smem), (stream), \
                                         __VA_ARGS__)
