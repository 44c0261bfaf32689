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
                        size_t smem_bytes) {
  std::ostringstream os;
  os << "CUDA kernel failed (at launch, or while running under ANVIL_SYNC_LAUNCHES): " << kernel << " at " << file
     << ":" << line << " with grid (" << grid.x << ", "
     << grid.y << ", " << grid.z << "), block (" << block.x << ", " << block.y << ", " << block.z << "), "
     << smem_bytes << " bytes of dynamic shared memory: " << cudaGetErrorName(status) << ": "
     << cudaGetErrorString(status);
  throw RuntimeFailure(os.str());
}

}  // namespace anvil::kernels::cuda::detail
