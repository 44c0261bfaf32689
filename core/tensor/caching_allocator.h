// A caching allocator for device memory: freed blocks go to per-size free lists and are reused, so
// the steady state of a training step makes no cudaMalloc. Sizes are rounded to 512 bytes (small)
// or 2 MiB (large) so that blocks of nearly equal size share a list. Statistics: allocated (in
// use), reserved (held from the driver) and peak allocated bytes.
//
// The raw allocation functions are injectable so that the caching logic is tested on the CPU.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "core/tensor/storage.h"

namespace anvil {

struct AllocatorStats {
  int64_t allocated_bytes = 0;
  int64_t reserved_bytes = 0;
  int64_t peak_allocated_bytes = 0;
  int64_t raw_allocations = 0;  // calls to the underlying allocation function
};

class CachingAllocator final : public Allocator {
 public:
  // RawAlloc returns nullptr when the device is out of memory (the allocator then returns its cache
  // to the device and retries once); any other failure it throws, and allocate() lets it through.
  using RawAlloc = std::function<void*(size_t)>;
  using RawFree = std::function<void(void*)>;
  CachingAllocator(RawAlloc alloc, RawFree free);
  ~CachingAllocator() override;

  void* allocate(size_t nbytes) override;
  void deallocate(void* p, size_t nbytes) override;
  // Returns every cached free block to the driver.
  void empty_cache();
  AllocatorStats stats() const;
  void reset_peak();

  static size_t round_size(size_t nbytes);

 private:
  RawAlloc raw_alloc_;
  RawFree raw_free_;
  mutable std::mutex mu_;
  std::multimap<size_t, void*> free_blocks_;        // size -> block
  std::unordered_map<void*, size_t> block_size_;    // every block we hold, in use or free
  AllocatorStats stats_;
};

// The allocator of CUDA device `device` (created on first use).
CachingAllocator& cuda_caching_allocator(int device);

}  // namespace anvil
