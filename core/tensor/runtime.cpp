#include "core/tensor/runtime.h"

#include "core/base/error.h"
#include "kernels/cuda/stream.h"
#include "kernels/device_runtime.h"

namespace anvil::runtime {

bool cuda_built() { return kernels::cuda_built(); }
int cuda_device_count() { return kernels::cuda_device_count(); }
void set_cuda_device(int device) { kernels::cuda_set_device(device); }

void synchronize(Device device) {
  if (device.is_cuda()) kernels::cuda_synchronize(device.index);
}

void* cuda_stream(Device device) {
  ANVIL_CHECK_OP(device.is_cuda(), "[cuda_stream] ", device.str(), " is not a CUDA device");
  return kernels::cuda::default_stream(device.index);
}

}  // namespace anvil::runtime
