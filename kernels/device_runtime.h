// The few CUDA runtime calls the layers above need, behind plain functions so that no header
// above kernels/ includes CUDA. Implemented in kernels/cuda/device_runtime.cu; in a build without
// CUDA, kernels/no_cuda/device_runtime.cpp reports zero devices and throws on use.
#pragma once

#include <cstddef>

namespace anvil::kernels {

bool cuda_built();          // compiled with CUDA support
// The CUDA device is the CPU emulator (-DANVIL_CUDA=EMULATE): correct, checked and slow, so tests
// pick smaller problems and benchmarks mean nothing.
bool cuda_emulated();
int cuda_device_count();    // 0 when not built with CUDA or no GPU/driver is present
void cuda_set_device(int device);
// Raw device allocation: nullptr when the device is out of memory (the caching allocator then frees
// its cache and retries); any other failure throws RuntimeFailure with the real CUDA error (often
// a sticky one an earlier kernel left: ANVIL_SYNC_LAUNCHES=1 makes each launch report its own).
void* cuda_malloc_or_null(size_t nbytes, int device);
void cuda_free(void* p, int device);
enum class CopyKind { HostToDevice, DeviceToHost, DeviceToDevice };
// Synchronous with respect to the host for DeviceToHost; ordered on the device's stream.
void cuda_memcpy(void* dst, const void* src, size_t nbytes, CopyKind kind, int device);
void cuda_memset_zero(void* dst, size_t nbytes, int device);
void cuda_synchronize(int device);

}  // namespace anvil::kernels
