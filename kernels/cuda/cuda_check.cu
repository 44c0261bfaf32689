// Builds the messages of the CUDA check macro (kernels/cuda/cuda_check.cuh).
#include "kernels/cuda/cuda_check.cuh"

#include <cstdlib>
#include <sstream>
#include <string>

namespace anvil::kernels::cuda::detail {

void throw_cuda_error(const char* expr, const char* file, int line, const std::string& what) {
  std::ostringstream os;
  os << "CUDA call failed: " << expr << " at " << file << ":" << line << ": " << what;
  throw RuntimeFailure(os.str());
}

bool sync_launches() {
#ifndef NDEBUG
  static const bool on = true;
#else
  static const bool on = [] {
    const char* v = std::getenv("ANVIL_SYNC_LAUNCHES");
    return v != nullptr && std::string(v) == "1";
  }();
#endif
  return on;
}

void throw_launch_error(cudaError_t status, const char* kernel, const char* file, int line, dim3 grid, dim3 block,
                        size_t smem_bytes, const void* func) {
  std::ostringstream os;
  os << "CUDA kernel failed (at launch, or while running under ANVIL_SYNC_LAUNCHES): " << kernel << " at " << file
     << ":" << line << " with grid (" << grid.x << ", " << grid.y << ", " << grid.z << "), block (" << block.x
     << ", " << block.y << ", " << block.z << "), " << smem_bytes
     << " bytes of dynamic shared memory: " << cudaGetErrorName(status) << ": " << cudaGetErrorString(status);
  // A bad launch configuration only says "invalid argument"; say which limit it broke.
  cudaFuncAttributes attr{};
  if (status == cudaErrorInvalidValue || status == cudaErrorInvalidConfiguration) {
    if (func != nullptr && cudaFuncGetAttributes(&attr, func) == cudaSuccess) {
      const unsigned threads = block.x * block.y * block.z;
      if (smem_bytes > size_t(attr.maxDynamicSharedSizeBytes))
        os << "; the kernel asks for " << smem_bytes << " bytes of dynamic shared memory but may use "
           << attr.maxDynamicSharedSizeBytes
           << " (above 48 KiB it needs cudaFuncSetAttribute(cudaFuncAttributeMaxDynamicSharedMemorySize))";
      if (threads > unsigned(attr.maxThreadsPerBlock))
        os << "; the block has " << threads << " threads but the kernel allows at most " << attr.maxThreadsPerBlock
           << " (its registers or __launch_bounds__)";
    }
    cudaGetLastError();  // the query's own status, if any, is not the error being reported
  }
  throw RuntimeFailure(os.str());
}

}  // namespace anvil::kernels::cuda::detail
