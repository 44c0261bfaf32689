// Stand-ins for the CUDA runtime in a build without CUDA: no devices; using one is an error.
#include "kernels/device_runtime.h"

#include "core/base/error.h"

namespace anvil::kernels {

namespace {
[[noreturn]] void no_cuda() {
  throw RuntimeFailure("this anvil was built without CUDA (configure with -DANVIL_CUDA=ON)");
}
}  // namespace

bool cuda_built() { return false; }
bool cuda_emulated() { return false; }
int cuda_device_count() { return 0; }
void cuda_set_device(int) { no_cuda(); }
void* cuda_malloc_or_null(size_t, int) { no_cuda(); }
void cuda_free(void*, int) { no_cuda(); }
void cuda_memcpy(void*, const void*, size_t, CopyKind, int) { no_cuda(); }
void cuda_memset_zero(void*, size_t, int) { no_cuda(); }
void cuda_synchronize(int) { no_cuda(); }

}  // namespace anvil::kernels
