#include "core/tensor/storage.h"

#include <cstdlib>
#include <new>

#include "core/base/error.h"
#include "core/tensor/caching_allocator.h"

namespace anvil {

namespace {
constexpr size_t kCpuAlignment = 64;  // a cache line; enough for any SIMD load

class CpuAllocator final : public Allocator {
 public:
  void* allocate(size_t nbytes) override {
    if (nbytes == 0) return nullptr;
    size_t rounded = (nbytes + kCpuAlignment - 1) / kCpuAlignment * kCpuAlignment;
    void* p = std::aligned_alloc(kCpuAlignment, rounded);
    if (!p) throw RuntimeFailure(detail::concat("out of CPU memory allocating ", nbytes, " bytes"));
    return p;
  }
  void deallocate(void* p, size_t) override { std::free(p); }
};
}  // namespace

Allocator* cpu_allocator() {
  static CpuAllocator a;
  return &a;
}

Allocator* allocator_for(Device d) {
  if (d.is_cpu()) return cpu_allocator();
  return &cuda_caching_allocator(d.index);
}

Storage::Storage(int64_t nbytes, Device device)
    : nbytes_(nbytes), device_(device), allocator_(allocator_for(device)) {
  data_ = allocator_->allocate(size_t(nbytes));
}

Storage::~Storage() {
  if (data_) allocator_->deallocate(data_, size_t(nbytes_));
}

}  // namespace anvil
