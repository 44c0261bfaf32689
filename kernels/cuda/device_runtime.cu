// The CUDA runtime behind kernels/device_runtime.h and kernels/cuda/stream.h: allocation, copies
// and synchronization on one anvil stream per device.
//
// cuda_device_count() must not throw: CI machines have the toolkit but no driver or GPU, and the
// GPU tests ask it first to decide whether to skip. Every other call checks its status.
#include <cuda_runtime.h>

#include <mutex>
#include <vector>

#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/stream.h"
#include "kernels/device_runtime.h"

namespace anvil::kernels {

namespace {
std::mutex g_stream_mutex;
std::vector<cudaStream_t> g_streams;  // index = device; created lazily

cudaStream_t stream_of(int device) {
  std::lock_guard<std::mutex> lock(g_stream_mutex);
  if (device < 0) throw RuntimeFailure("CUDA device index " + std::to_string(device) + " is negative");
  if (size_t(device) >= g_streams.size()) g_streams.resize(size_t(device) + 1, nullptr);
  if (g_streams[size_t(device)] == nullptr) {
    int previous = 0;
    ANVIL_CUDA_CHECK(cudaGetDevice(&previous));
    ANVIL_CUDA_CHECK(cudaSetDevice(device));
    cudaStream_t s = nullptr;
    ANVIL_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    ANVIL_CUDA_CHECK(cudaSetDevice(previous));
    g_streams[size_t(device)] = s;
  }
  return g_streams[size_t(device)];
}

// Selects `device` for the current scope and restores the previous one after.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    ANVIL_CUDA_CHECK(cudaGetDevice(&previous_));
    if (previous_ != device) ANVIL_CUDA_CHECK(cudaSetDevice(device));
    device_ = device;
  }
  ~DeviceGuard() {
    if (previous_ != device_) cudaSetDevice(previous_);  // best effort in a destructor
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = 0;
  int device_ = 0;
};

cudaMemcpyKind to_cuda(CopyKind kind) {
  switch (kind) {
    case CopyKind::HostToDevice: return cudaMemcpyHostToDevice;
    case CopyKind::DeviceToHost: return cudaMemcpyDeviceToHost;
    case CopyKind::DeviceToDevice: return cudaMemcpyDeviceToDevice;
  }
  return cudaMemcpyDefault;
}
}  // namespace

bool cuda_built() { return true; }
bool cuda_emulated() {
#if defined(ANVIL_CUDA_EMULATE)
  return true;
#else
  return false;
#endif
}

int cuda_device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" status so later calls start clean
    return 0;
  }
  return count;
}

void cuda_set_device(int device) { ANVIL_CUDA_CHECK(cudaSetDevice(device)); }

void* cuda_malloc_or_null(size_t nbytes, int device) {
  if (nbytes == 0) return nullptr;
  DeviceGuard guard(device);
  void* p = nullptr;
  const cudaError_t status = cudaMalloc(&p, nbytes);
  if (status == cudaErrorMemoryAllocation) {
    cudaGetLastError();  // not sticky: clear it so the retry after freeing the cache starts clean
    return nullptr;
  }
  if (status != cudaSuccess)
    throw RuntimeFailure(detail::concat(
        "cudaMalloc of ", nbytes, " bytes on device ", device, " failed: ", cudaGetErrorName(status), ": ",
        cudaGetErrorString(status),
        " (not out of memory: an error like this is usually left by an earlier kernel that faulted; rerun with "
        "ANVIL_SYNC_LAUNCHES=1 or CUDA_LAUNCH_BLOCKING=1 to have it reported at that kernel)"));
  return p;
}

void cuda_free(void* p, int device) {
  if (p == nullptr) return;
  DeviceGuard guard(device);
  ANVIL_CUDA_CHECK(cudaFree(p));
}

void cuda_memcpy(void* dst, const void* src, size_t nbytes, CopyKind kind, int device) {
  if (nbytes == 0) return;
  DeviceGuard guard(device);
  cudaStream_t s = stream_of(device);
  ANVIL_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, to_cuda(kind), s));
  // The host may reuse or read its buffer as soon as we return.
  if (kind != CopyKind::DeviceToDevice) ANVIL_CUDA_CHECK(cudaStreamSynchronize(s));
}

void cuda_memset_zero(void* dst, size_t nbytes, int device) {
  if (nbytes == 0) return;
  DeviceGuard guard(device);
  ANVIL_CUDA_CHECK(cudaMemsetAsync(dst, 0, nbytes, stream_of(device)));
}

void cuda_synchronize(int device) {
  DeviceGuard guard(device);
  ANVIL_CUDA_CHECK(cudaStreamSynchronize(stream_of(device)));
}

namespace cuda {
void* default_stream(int device) { return stream_of(device); }
int current_device() {
  int device = 0;
  ANVIL_CUDA_CHECK(cudaGetDevice(&device));
  return device;
}
}  // namespace cuda

}  // namespace anvil::kernels
