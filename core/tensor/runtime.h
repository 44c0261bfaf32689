// The device runtime as the layers above core see it: whether CUDA was built, how many devices the
// machine has, selecting one, waiting for its work and its anvil stream. Implemented over
// kernels/device_runtime.h and kernels/cuda/stream.h, which nothing above core includes (see the
// layer rules in docs/ARCHITECTURE.md).
#pragma once

#include "core/base/device.h"

namespace anvil::runtime {

bool cuda_built();         // compiled with CUDA support
int cuda_device_count();   // 0 when not built with CUDA or no GPU/driver is present; never throws
void set_cuda_device(int device);  // selects the calling thread's CUDA device
// Waits until the work queued on `device` (its anvil stream) has finished; a no-op for the CPU.
void synchronize(Device device);
// The anvil stream of a CUDA device (a cudaStream_t as void*): the stream every op launches on.
void* cuda_stream(Device device);

}  // namespace anvil::runtime
