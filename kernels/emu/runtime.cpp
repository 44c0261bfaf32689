// The CUDA runtime API on the CPU: one emulated device (a Hopper-class GPU by its limits) whose
// memory is host memory, allocation by allocation, so every kernel access can be checked against the
// allocation it falls in. Launches run to completion before they return, so streams and events
// have nothing to order; a faulting kernel leaves a sticky error, as on a GPU, until cudaDeviceReset().
#include <cuda_runtime.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>
#include <string>
#include <unordered_map>

#include "kernels/emu/state.h"

struct CUstream_st {
  int device = 0;
};
struct CUevent_st {
  bool recorded = false;
};

namespace anvil::emu {

namespace {

// Devices the emulator shows (ANVIL_EMU_DEVICES, default 8, as on one 8-GPU node): every rank of an
// mpirun job on one machine can then have "its" GPU. They share one memory and run one at a time.
int device_count() {
  static const int n = [] {
    const char* v = std::getenv("ANVIL_EMU_DEVICES");
    const int d = v ? std::atoi(v) : 8;
    return d > 0 ? d : 1;
  }();
  return n;
}
constexpr size_t kDefaultDeviceMemory = size_t(8) << 30;
constexpr int kMaxOptInSharedMemory = 227 * 1024;
constexpr int kDefaultDynamicShared = 48 * 1024;

struct ErrorState {
  int sticky = 0, last = 0;
  std::string sticky_text;
  // The most recent error raised, kept past cudaGetLastError() so that cudaGetErrorString() of the
  // code it returned can still say what happened.
  int reported = 0;
  std::string reported_text;
};

struct DeviceState {
  std::map<uintptr_t, Allocation> allocations;  // by base address
  uint64_t version = 0;
  size_t used = 0;
  size_t capacity = 0;
  std::unordered_map<const void*, int> max_dynamic_shared;
  ErrorState errors;
};

DeviceState& state() {
  static DeviceState* s = [] {
    auto* d = new DeviceState;
    const char* v = std::getenv("ANVIL_EMU_DEVICE_MEMORY_MB");
    d->capacity = v ? size_t(std::strtoull(v, nullptr, 10)) << 20 : kDefaultDeviceMemory;
    return d;
  }();
  return *s;
}

thread_local int g_device = 0;

// Calls that find a sticky error fail with it, as every call does after a kernel fault on a GPU.
#define ANVIL_EMU_STICKY()                                                                  \
  do {                                                                                      \
    if (state().errors.sticky != 0) return cudaError_t(state().errors.sticky);              \
  } while (0)

cudaError_t fail(cudaError_t code, const std::string& text) {
  state().errors.last = code;
  state().errors.reported = code;
  state().errors.reported_text = text;
  return code;
}

// Whether [p, p + n) lies inside one allocation.
bool device_range(const void* p, size_t n) {
  const Allocation* near = nullptr;
  const Allocation* a = find_allocation(reinterpret_cast<uintptr_t>(p), &near);
  return a != nullptr && reinterpret_cast<uintptr_t>(p) + n <= a->base + a->bytes;
}

cudaError_t check_copy(void* dst, const void* src, size_t n, cudaMemcpyKind kind) {
  const bool dst_dev = device_range(dst, n), src_dev = device_range(src, n);
  auto need = [&](bool ok, const char* which, const void* p) -> cudaError_t {
    if (ok) return cudaSuccess;
    return fail(cudaErrorInvalidValue, std::string("cudaMemcpy: the ") + which + " range " + pointer_text(p) + " + " +
                                           std::to_string(n) + " bytes is not inside one device allocation");
  };
  switch (kind) {
    case cudaMemcpyHostToDevice: return need(dst_dev, "destination", dst);
    case cudaMemcpyDeviceToHost: return need(src_dev, "source", src);
    case cudaMemcpyDeviceToDevice:
      if (cudaError_t e = need(dst_dev, "destination", dst)) return e;
      return need(src_dev, "source", src);
    default: return cudaSuccess;
  }
}

}  // namespace

std::mutex& emulator_mutex() {
  static std::mutex m;
  return m;
}

const Allocation* find_allocation(uintptr_t p, const Allocation** near) {
  auto& allocs = state().allocations;
  auto it = allocs.upper_bound(p);
  if (it == allocs.begin()) {
    *near = nullptr;
    return nullptr;
  }
  --it;
  *near = &it->second;
  return p < it->second.base + it->second.bytes ? &it->second : nullptr;
}

uint64_t allocation_version() { return state().version; }

std::string pointer_text(const void* p) {
  std::ostringstream os;
  os << p;
  const Allocation* near = nullptr;
  if (const Allocation* a = find_allocation(reinterpret_cast<uintptr_t>(p), &near))
    os << " (offset " << (reinterpret_cast<uintptr_t>(p) - a->base) << " of a " << a->bytes << "-byte allocation)";
  return os.str();
}

void record_launch_error(int code, const std::string& message, bool sticky) {
  ErrorState& e = state().errors;
  e.last = code;
  e.reported = code;
  e.reported_text = message;
  if (sticky) {
    e.sticky = code;
    e.sticky_text = message;
  }
}
int sticky_error() { return state().errors.sticky; }
int max_dynamic_shared(const void* kernel) {
  auto it = state().max_dynamic_shared.find(kernel);
  return it == state().max_dynamic_shared.end() ? kDefaultDynamicShared : it->second;
}

// What a synchronizing call returns: the sticky error of a faulted kernel, or success (every launch
// and copy has completed before its call returned).
cudaError_t pending_error() {
  std::lock_guard<std::mutex> lock(emulator_mutex());
  return cudaError_t(state().errors.sticky);
}

}  // namespace anvil::emu

using anvil::emu::emulator_mutex;
using anvil::emu::state;

cudaError_t cudaGetDeviceCount(int* count) {
  *count = anvil::emu::device_count();
  return cudaSuccess;
}
cudaError_t cudaGetDevice(int* device) {
  *device = anvil::emu::g_device;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) {
  if (device < 0 || device >= anvil::emu::device_count())
    return anvil::emu::fail(cudaErrorInvalidDevice, "cudaSetDevice(" + std::to_string(device) +
                                                        "): the emulator has " + std::to_string(anvil::emu::device_count()) +
                                                        " devices (ANVIL_EMU_DEVICES)");
  anvil::emu::g_device = device;
  return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int device) {
  if (device < 0 || device >= anvil::emu::device_count()) return cudaErrorInvalidDevice;
  std::memset(p, 0, sizeof(*p));
  std::strncpy(p->name, "Anvil CUDA emulator (CPU, sm_90 limits)", sizeof(p->name) - 1);
  p->totalGlobalMem = state().capacity;
  p->sharedMemPerBlock = 48 * 1024;
  p->sharedMemPerBlockOptin = anvil::emu::kMaxOptInSharedMemory;
  p->regsPerBlock = 65536;
  p->warpSize = 32;
  p->maxThreadsPerBlock = 1024;
  p->maxThreadsDim[0] = 1024;
  p->maxThreadsDim[1] = 1024;
  p->maxThreadsDim[2] = 64;
  p->maxGridSize[0] = 0x7fffffff;
  p->maxGridSize[1] = 65535;
  p->maxGridSize[2] = 65535;
  p->major = 9;
  p->minor = 0;
  p->multiProcessorCount = 1;
  return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize() { return anvil::emu::pending_error(); }
cudaError_t cudaDeviceReset() {
  std::lock_guard<std::mutex> lock(emulator_mutex());
  state().errors = {};
  return cudaSuccess;
}
cudaError_t cudaGetLastError() {
  std::lock_guard<std::mutex> lock(emulator_mutex());
  auto& e = state().errors;
  const int code = e.last;
  e.last = e.sticky;
  return cudaError_t(code);
}
cudaError_t cudaPeekAtLastError() {
  std::lock_guard<std::mutex> lock(emulator_mutex());
  return cudaError_t(state().errors.last);
}

const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInitializationError: return "cudaErrorInitializationError";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorNotReady: return "cudaErrorNotReady";
    case cudaErrorIllegalAddress: return "cudaErrorIllegalAddress";
    case cudaErrorLaunchOutOfResources: return "cudaErrorLaunchOutOfResources";
    case cudaErrorMisalignedAddress: return "cudaErrorMisalignedAddress";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
  }
  return "cudaErrorUnknown";
}

const char* cudaGetErrorString(cudaError_t error) {
  // The emulator's own account of the error (kernel, block, thread, access) when it has one.
  thread_local std::string text;  // the returned pointer stays valid until this thread's next call
  std::lock_guard<std::mutex> lock(emulator_mutex());
  const auto& e = state().errors;
  std::string generic;
  switch (error) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: generic = "invalid argument"; break;
    case cudaErrorMemoryAllocation: generic = "out of memory"; break;
    case cudaErrorInvalidConfiguration: generic = "invalid configuration argument"; break;
    case cudaErrorIllegalAddress: generic = "an illegal memory access was encountered"; break;
    case cudaErrorMisalignedAddress: generic = "misaligned address"; break;
    case cudaErrorLaunchFailure: generic = "unspecified launch failure"; break;
    default: generic = "CUDA error"; break;
  }
  const std::string detail = e.sticky == int(error)     ? e.sticky_text
                            : e.reported == int(error) ? e.reported_text
                                                       : std::string();
  text = detail.empty() ? generic : generic + " [CUDA emulator: " + detail + "]";
  return text.c_str();
}

cudaError_t cudaMalloc(void** ptr, size_t bytes) {
  std::lock_guard<std::mutex> lock(emulator_mutex());
  ANVIL_EMU_STICKY();
  *ptr = nullptr;
  auto& s = state();
  if (bytes == 0) return cudaSuccess;
  if (bytes > s.capacity - s.used)
    return anvil::emu::fail(cudaErrorMemoryAllocation, "cudaMalloc of " + std::to_string(bytes) + " bytes: " +
                                                           std::to_string(s.capacity - s.used) +
                                                           " bytes free (ANVIL_EMU_DEVICE_MEMORY_MB sets the size)");
  // 256-byte aligned like cudaMalloc, with a red zone past the end that no other allocation uses.
  const size_t total = (bytes + anvil::emu::kRedZone + 255) / 256 * 256;
  void* p = std::aligned_alloc(256, total);
  if (p == nullptr) return anvil::emu::fail(cudaErrorMemoryAllocation, "cudaMalloc: host memory exhausted");
  // Fresh device memory holds garbage: all-ones bytes read as NaN (floats) and -1 (integers).
  std::memset(p, 0xff, total);
  s.allocations[reinterpret_cast<uintptr_t>(p)] = anvil::emu::Allocation{reinterpret_cast<uintptr_t>(p), bytes};
  s.used += bytes;
  ++s.version;
  *ptr = p;
  return cudaSuccess;
}

cudaError_t cudaFree(void* ptr) {
  std::lock_guard<std::mutex> lock(emulator_mutex());
  ANVIL_EMU_STICKY();
  if (ptr == nullptr) return cudaSuccess;
  auto& s = state();
  auto it = s.allocations.find(reinterpret_cast<uintptr_t>(ptr));
  if (it == s.allocations.end())
    return anvil::emu::fail(cudaErrorInvalidValue, "cudaFree(" + anvil::emu::pointer_text(ptr) +
                                                       "): not the start of a live allocation");
  s.used -= it->second.bytes;
  s.allocations.erase(it);
  ++s.version;
  std::free(ptr);
  return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  std::lock_guard<std::mutex> lock(emulator_mutex());
  ANVIL_EMU_STICKY();
  *free_bytes = state().capacity - state().used;
  *total_bytes = state().capacity;
  return cudaSuccess;
}

cudaError_t cudaPointerGetAttributes(cudaPointerAttributes* attributes, const void* ptr) {
  std::lock_guard<std::mutex> lock(emulator_mutex());
  *attributes = cudaPointerAttributes{};
  const anvil::emu::Allocation* near = nullptr;
  if (anvil::emu::find_allocation(reinterpret_cast<uintptr_t>(ptr), &near)) {
    attributes->type = cudaMemoryTypeDevice;
    attributes->device = 0;
    attributes->devicePointer = const_cast<void*>(ptr);
  }
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  return cudaMemcpyAsync(dst, src, bytes, kind, nullptr);
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t) {
  std::lock_guard<std::mutex> lock(emulator_mutex());
  ANVIL_EMU_STICKY();
  if (bytes == 0) return cudaSuccess;
  if (cudaError_t e = anvil::emu::check_copy(dst, src, bytes, kind)) return e;
  std::memmove(dst, src, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemset(void* dst, int value, size_t bytes) { return cudaMemsetAsync(dst, value, bytes, nullptr); }
cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t) {
  std::lock_guard<std::mutex> lock(emulator_mutex());
  ANVIL_EMU_STICKY();
  if (bytes == 0) return cudaSuccess;
  if (!anvil::emu::device_range(dst, bytes))
    return anvil::emu::fail(cudaErrorInvalidValue, "cudaMemset: " + anvil::emu::pointer_text(dst) + " + " +
                                                       std::to_string(bytes) + " bytes is not inside one allocation");
  std::memset(dst, value, bytes);
  return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t* stream) { return cudaStreamCreateWithFlags(stream, cudaStreamDefault); }
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned) {
  *stream = new CUstream_st{anvil::emu::g_device};
  return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  delete stream;
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t) { return anvil::emu::pending_error(); }
cudaError_t cudaStreamWaitEvent(cudaStream_t, cudaEvent_t, unsigned) { return anvil::emu::pending_error(); }
cudaError_t cudaEventCreate(cudaEvent_t* event) { return cudaEventCreateWithFlags(event, cudaEventDefault); }
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned) {
  *event = new CUevent_st{};
  return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t event) {
  delete event;
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t) {
  std::lock_guard<std::mutex> lock(emulator_mutex());
  ANVIL_EMU_STICKY();
  if (event == nullptr) return cudaErrorInvalidResourceHandle;
  event->recorded = true;
  return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t) { return anvil::emu::pending_error(); }
cudaError_t cudaEventQuery(cudaEvent_t) { return anvil::emu::pending_error(); }
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t, cudaEvent_t) {
  *ms = 0.0f;  // emulated time means nothing
  return cudaSuccess;
}

cudaError_t cudaFuncSetAttribute(const void* func, cudaFuncAttribute attribute, int value) {
  std::lock_guard<std::mutex> lock(emulator_mutex());
  ANVIL_EMU_STICKY();
  if (attribute != cudaFuncAttributeMaxDynamicSharedMemorySize)
    return anvil::emu::fail(cudaErrorInvalidValue, "cudaFuncSetAttribute: only MaxDynamicSharedMemorySize is emulated");
  if (value < 0 || value > anvil::emu::kMaxOptInSharedMemory)
    return anvil::emu::fail(cudaErrorInvalidValue, "cudaFuncSetAttribute(MaxDynamicSharedMemorySize, " +
                                                       std::to_string(value) + "): a block may have at most " +
                                                       std::to_string(anvil::emu::kMaxOptInSharedMemory) + " bytes");
  state().max_dynamic_shared[func] = value;
  return cudaSuccess;
}
cudaError_t cudaFuncGetAttributes(cudaFuncAttributes* attributes, const void* func) {
  std::lock_guard<std::mutex> lock(emulator_mutex());
  *attributes = cudaFuncAttributes{};
  attributes->maxDynamicSharedSizeBytes = anvil::emu::max_dynamic_shared(func);
  return cudaSuccess;
}
