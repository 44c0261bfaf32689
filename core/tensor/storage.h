// Storage: one allocation of bytes on a device, shared by every tensor that views it.
// Allocators: the CPU allocator (64-byte aligned) and the CUDA caching allocator
// (core/tensor/caching_allocator.h), chosen by the device.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/base/device.h"

namespace anvil {

class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(size_t nbytes) = 0;
  virtual void deallocate(void* p, size_t nbytes) = 0;
};

Allocator* cpu_allocator();
// The allocator for a device (CUDA: the caching allocator of that device).
Allocator* allocator_for(Device d);

class Storage {
 public:
  Storage(int64_t nbytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  int64_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  int64_t nbytes_ = 0;
  Device device_;
  Allocator* allocator_ = nullptr;
};

}  // namespace anvil
