#include "core/tensor/caching_allocator.h"

#include <algorithm>
#include <memory>

#include "core/base/error.h"
#include "kernels/device_runtime.h"

namespace anvil {

namespace {
constexpr size_t kSmallRound = 512;
constexpr size_t kLargeThreshold = 1 << 20;
constexpr size_t kLargeRound = 2 << 20;
// A cached block may serve a request down to half its size; beyond that we'd waste too much.
constexpr size_t kMaxWasteFactor = 2;
}  // namespace

CachingAllocator::CachingAllocator(RawAlloc alloc, RawFree free)
    : raw_alloc_(std::move(alloc)), raw_free_(std::move(free)) {}

CachingAllocator::~CachingAllocator() {
  // Process exit: the driver may already be gone, so blocks are left to it.
}

size_t CachingAllocator::round_size(size_t n) {
  if (n < kLargeThreshold) return std::max<size_t>(kSmallRound, (n + kSmallRound - 1) / kSmallRound * kSmallRound);
  return (n + kLargeRound - 1) / kLargeRound * kLargeRound;
}

void* CachingAllocator::allocate(size_t nbytes) {
  if (nbytes == 0) return nullptr;
  size_t size = round_size(nbytes);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = free_blocks_.lower_bound(size);
  void* p = nullptr;
  if (it != free_blocks_.end() && it->first <= size * kMaxWasteFactor) {
    p = it->second;
    size = it->first;
    free_blocks_.erase(it);
  } else {
    p = raw_alloc_(size);
    if (!p && !free_blocks_.empty()) {
      // Out of memory: give the cache back and try once more.
      for (auto& [s, b] : free_blocks_) {
        raw_free_(b);
        block_size_.erase(b);
        stats_.reserved_bytes -= int64_t(s);
      }
      free_blocks_.clear();
      p = raw_alloc_(size);
    }
    if (!p)
      throw RuntimeFailure(detail::concat("out of device memory allocating ", nbytes, " bytes (",
                                          stats_.allocated_bytes, " in use, ", stats_.reserved_bytes, " reserved)"));
    stats_.raw_allocations++;
    stats_.reserved_bytes += int64_t(size);
    block_size_[p] = size;
  }
  stats_.allocated_bytes += int64_t(size);
  stats_.peak_allocated_bytes = std::max(stats_.peak_allocated_bytes, stats_.allocated_bytes);
  return p;
}

void CachingAllocator::deallocate(void* p, size_t) {
  if (!p) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = block_size_.find(p);
  ANVIL_ASSERT(it != block_size_.end(), "freeing a block this allocator does not own");
  stats_.allocated_bytes -= int64_t(it->second);
  free_blocks_.emplace(it->second, p);
}

void CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [s, b] : free_blocks_) {
    raw_free_(b);
    block_size_.erase(b);
    stats_.reserved_bytes -= int64_t(s);
  }
  free_blocks_.clear();
}

AllocatorStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void CachingAllocator::reset_peak() {
  std::lock_guard<std::mutex> lock(mu_);
  stats_.peak_allocated_bytes = stats_.allocated_bytes;
}

CachingAllocator& cuda_caching_allocator(int device) {
  static std::mutex mu;
  static std::map<int, std::unique_ptr<CachingAllocator>> allocators;
  std::lock_guard<std::mutex> lock(mu);
  auto& a = allocators[device];
  if (!a) {
    a = std::make_unique<CachingAllocator>(
        // nullptr only when out of memory; other CUDA errors propagate as they are (they used to
        // be reported as out of memory).
        [device](size_t n) -> void* { return kernels::cuda_malloc_or_null(n, device); },
        [device](void* p) { kernels::cuda_free(p, device); });
  }
  return *a;
}

}  // namespace anvil
