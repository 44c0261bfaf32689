// Every load and store of emulated kernel code, checked. The kernel sources are compiled with
// -fsanitize=thread, which makes the compiler call __tsan_readN / __tsan_writeN before each memory
// access; this file defines those hooks (the TSan runtime is not linked), so the emulator sees each
// access with its address and size:
//   - global memory: the access must lie inside one live cudaMalloc allocation;
//   - shared memory (the __shared__ statics, which live in .bss, and the dynamic area): a per-byte
//     shadow records the last writer and reader with the barrier epochs they had, and an access
//     that another thread's unordered access makes a race is a fault; so is a read of a byte no
//     thread of the block wrote, and a dynamic-shared access past the launch's byte count;
//   - alignment: a naturally aligned access of 2, 4, 8 or 16 bytes must be aligned (as on a GPU);
//   - anything else (a host pointer, freed memory) is a fault, except reads of the program's
//     constants and of the kernel arguments on the launching thread's stack.
// Outside a kernel (host code in the same files) the hooks return at once.
#include <pthread.h>
#include <sys/mman.h>

#include <cstring>
#include <sstream>

#include "kernels/emu/state.h"

extern "C" {
extern char __bss_start[];
extern char _end[];
extern char __executable_start[];
}

namespace anvil::emu {

// Dynamic shared memory: one area for the running block, the most a Hopper block may have.
constexpr size_t kDynamicSharedCapacity = 227 * 1024;
alignas(128) static unsigned char g_dynamic_area[kDynamicSharedCapacity + kRedZone];
unsigned char* dynamic_shared_area() { return g_dynamic_area; }

namespace {

constexpr uint16_t kNobody = 0xffff, kSeveral = 0xfffe;

struct Shadow {
  uint32_t generation;  // the block that wrote this entry; older means untouched in this block
  uint16_t writer, reader;
  uint32_t write_block_epoch, write_warp_epoch;
  uint32_t read_block_epoch, read_warp_epoch;
};

Shadow* shadow_for(uintptr_t a) {
  static Shadow* table = [] {
    const size_t n = size_t(_end - __bss_start);
    void* p = mmap(nullptr, n * sizeof(Shadow), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED) std::abort();
    return static_cast<Shadow*>(p);
  }();
  return table + (a - reinterpret_cast<uintptr_t>(__bss_start));
}

struct StackRange {
  uintptr_t low = 0, high = 0;
};
// The launching OS thread's stack, where the bound kernel arguments live.
const StackRange& host_stack() {
  thread_local StackRange range = [] {
    StackRange r;
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
      void* addr = nullptr;
      size_t size = 0;
      pthread_attr_getstack(&attr, &addr, &size);
      r.low = reinterpret_cast<uintptr_t>(addr);
      r.high = r.low + size;
      pthread_attr_destroy(&attr);
    }
    return r;
  }();
  return range;
}

std::string access_text(size_t n, bool write, const void* p) {
  std::ostringstream os;
  os << n << "-byte " << (write ? "write" : "read") << " at " << p;
  return os.str();
}

std::string thread_text(const EmuBlock& b, int linear) {
  const unsigned x = unsigned(linear) % b.block.x, y = (unsigned(linear) / b.block.x) % b.block.y,
                 z = unsigned(linear) / (b.block.x * b.block.y);
  std::ostringstream os;
  os << "thread (" << x << ", " << y << ", " << z << ")";
  return os.str();
}

bool ordered_after(const EmuThread& t, uint16_t who, uint32_t block_epoch, uint32_t warp_epoch) {
  if (who == uint16_t(t.linear)) return true;
  if (t.block_epoch > block_epoch) return true;  // a __syncthreads both passed since
  return who != kSeveral && who / 32 == t.warp && t.warp_epoch > warp_epoch;  // a __syncwarp since
}

[[noreturn]] void race(const EmuBlock& b, uintptr_t a, size_t n, bool write, const char* space, uintptr_t origin,
                       size_t byte, const std::string& other, const char* what) {
  fault(Fault::LaunchFailure, "shared-memory race: " + access_text(n, write, reinterpret_cast<void*>(a)) + " (" + space +
                                  " offset " + std::to_string(a + byte - origin) + ") of a byte " + other + " " + what +
                                  " since the last barrier both passed");
}

void check_shared(EmuThread& t, EmuBlock& b, uintptr_t a, size_t n, bool write, const char* space, uintptr_t origin) {
  const uint32_t warp_now = b.warp_epoch[size_t(t.warp)];
  const auto me = uint16_t(t.linear);
  for (size_t i = 0; i < n; ++i) {
    Shadow& s = *shadow_for(a + i);
    if (s.generation != b.generation) {
      s = Shadow{b.generation, kNobody, kNobody, 0, 0, 0, 0};
      if (!write) b.unwritten_reads.push_back(EmuBlock::UnwrittenRead{a + i, t.linear, a + i - origin, space});
    }
    if (s.writer != kNobody && !ordered_after(t, s.writer, s.write_block_epoch, s.write_warp_epoch))
      race(b, a, n, write, space, origin, i, thread_text(b, s.writer), "wrote");
    if (write) {
      if (s.reader != kNobody && s.reader != me && !ordered_after(t, s.reader, s.read_block_epoch, s.read_warp_epoch))
        race(b, a, n, write, space, origin, i, s.reader == kSeveral ? std::string("other threads") : thread_text(b, s.reader),
             "read");
      s.writer = me;
      s.write_block_epoch = t.block_epoch;
      s.write_warp_epoch = warp_now;
      s.reader = kNobody;
    } else {
      if (s.reader == kNobody || s.reader == me || ordered_after(t, s.reader, s.read_block_epoch, s.read_warp_epoch))
        s.reader = me;
      else
        s.reader = kSeveral;
      s.read_block_epoch = t.block_epoch;
      s.read_warp_epoch = warp_now;
    }
  }
}

enum class Space { Dynamic, Static, Other };
Space space_of(uintptr_t a) {
  const auto dyn = reinterpret_cast<uintptr_t>(g_dynamic_area);
  if (a >= dyn && a < dyn + sizeof(g_dynamic_area)) return Space::Dynamic;
  if (a >= reinterpret_cast<uintptr_t>(__bss_start) && a < reinterpret_cast<uintptr_t>(_end)) return Space::Static;
  return Space::Other;
}

}  // namespace

void start_block_shadow(EmuBlock& block) {
  // Generations make every earlier entry stale without touching the table.
  block.unwritten_reads.clear();
}

std::string unwritten_read_fault(EmuBlock& b) {
  if (b.unwritten_reads.empty()) return "";
  const EmuBlock::UnwrittenRead& r = b.unwritten_reads.front();
  std::ostringstream os;
  os << "kernel " << b.kernel << ", block (" << b.bid.x << ", " << b.bid.y << ", " << b.bid.z << "): "
     << thread_text(b, r.reader) << " read " << r.space << " memory (offset " << r.offset
     << ") that no thread of this block had written before the next barrier";
  if (b.unwritten_reads.size() > 1) os << " (" << b.unwritten_reads.size() - 1 << " more such bytes)";
  return os.str();
}

void check_shared_destination(const void* p, size_t bytes) {
  RuntimeScope scope;
  const auto a = reinterpret_cast<uintptr_t>(p);
  const Space s = space_of(a);
  if (s == Space::Other)
    fault(Fault::IllegalAddress, "cp.async destination " + pointer_text(p) + " is not shared memory");
  if (s == Space::Dynamic && a + bytes - reinterpret_cast<uintptr_t>(g_dynamic_area) > g_block->dynamic_shared_bytes)
    fault(Fault::IllegalAddress, "cp.async destination at dynamic shared offset " +
                                     std::to_string(a - reinterpret_cast<uintptr_t>(g_dynamic_area)) + " + " +
                                     std::to_string(bytes) + " is past the " +
                                     std::to_string(g_block->dynamic_shared_bytes) + " bytes the launch requested");
}

namespace {

// An access outside shared memory and the thread's stack: it must be inside a live allocation, or
// a read of the kernel arguments or the program's constants.
void check_global(const void* p, size_t n, bool write) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  // Reads of the kernel arguments (the launching thread's stack) and of the program's constants.
  if (!write) {
    const StackRange& hs = host_stack();
    if (a >= hs.low && a < hs.high) return;
    if (a >= reinterpret_cast<uintptr_t>(__executable_start) && a < reinterpret_cast<uintptr_t>(__bss_start)) return;
  }
  // Most accesses hit one of the few allocations the kernel works on: a small cache of them.
  constexpr int kCached = 8;
  thread_local Allocation recent[kCached];
  thread_local int next_slot = 0;
  thread_local uint64_t recent_version = ~uint64_t(0);
  const uint64_t version = allocation_version();
  if (recent_version != version) {
    for (Allocation& r : recent) r = Allocation{0, 0};
    recent_version = version;
  }
  for (const Allocation& r : recent)
    if (a - r.base < r.bytes && a + n <= r.base + r.bytes) return;
  const Allocation* near = nullptr;
  if (find_allocation(a, &near) != nullptr && a + n <= near->base + near->bytes) {
    recent[next_slot] = *near;
    next_slot = (next_slot + 1) % kCached;
    return;
  }
  if (near != nullptr && a < near->base + near->bytes + kRedZone) {
    std::ostringstream os;
    os << access_text(n, write, p) << " is out of bounds: offset " << (a - near->base) << " of an allocation of "
       << near->bytes << " bytes at " << reinterpret_cast<void*>(near->base);
    fault(Fault::IllegalAddress, os.str());
  }
  fault(Fault::IllegalAddress, access_text(n, write, p) +
                                   " is in no live device allocation, shared memory or this thread's stack (a host "
                                   "pointer, freed memory or a wild index)");
}

void check_dynamic_bounds(const EmuBlock& b, uintptr_t a, size_t n, bool write) {
  const auto origin = reinterpret_cast<uintptr_t>(g_dynamic_area);
  if (a + n - origin > b.dynamic_shared_bytes)
    fault(Fault::IllegalAddress, access_text(n, write, reinterpret_cast<void*>(a)) + " at dynamic shared offset " +
                                     std::to_string(a - origin) + " is past the " +
                                     std::to_string(b.dynamic_shared_bytes) + " bytes the launch requested");
}

}  // namespace

void check_access_by(EmuThread& t, const void* p, size_t n, bool write, bool aligned, bool shared_only) {
  RuntimeScope scope;
  EmuBlock& b = *g_block;
  const auto a = reinterpret_cast<uintptr_t>(p);
  if (aligned && n > 1 && a % n != 0)
    fault(Fault::MisalignedAddress, access_text(n, write, p) + " is not " + std::to_string(n) + "-byte aligned");
  if (a >= reinterpret_cast<uintptr_t>(t.fiber->stack_low()) && a < reinterpret_cast<uintptr_t>(t.fiber->stack_high()))
    return;  // the thread's own locals
  switch (space_of(a)) {
    case Space::Dynamic:
      check_dynamic_bounds(b, a, n, write);
      check_shared(t, b, a, n, write, "dynamic shared", reinterpret_cast<uintptr_t>(g_dynamic_area));
      return;
    case Space::Static: check_shared(t, b, a, n, write, "static shared", reinterpret_cast<uintptr_t>(__bss_start)); return;
    case Space::Other: break;
  }
  if (shared_only) fault(Fault::IllegalAddress, access_text(n, write, p) + " is not in shared memory");
  check_global(p, n, write);
}

void check_atomic(const void* p, size_t n) {
  if (g_thread == nullptr) return;
  RuntimeScope scope;
  const auto a = reinterpret_cast<uintptr_t>(p);
  if (a % n != 0) fault(Fault::MisalignedAddress, "atomic on " + access_text(n, true, p) + " is not aligned");
  switch (space_of(a)) {
    case Space::Dynamic: check_dynamic_bounds(*g_block, a, n, true); return;
    case Space::Static: return;
    case Space::Other: check_global(p, n, true); return;
  }
}

}  // namespace anvil::emu

// The instrumentation's entry points. Each is cheap outside a kernel (g_thread is null).
namespace {
inline void hook(void* p, size_t n, bool write, bool aligned) {
  anvil::emu::EmuThread* t = anvil::emu::g_thread;
  if (t != nullptr && t->in_runtime == 0) anvil::emu::check_access_by(*t, p, n, write, aligned, false);
}
}  // namespace

extern "C" {
#define ANVIL_EMU_HOOKS(n)                                                              \
  void __tsan_read##n(void* p) { hook(p, n, false, true); }                             \
  void __tsan_write##n(void* p) { hook(p, n, true, true); }                             \
  void __tsan_unaligned_read##n(void* p) { hook(p, n, false, false); }                  \
  void __tsan_unaligned_write##n(void* p) { hook(p, n, true, false); }                  \
  void __tsan_volatile_read##n(void* p) { hook(p, n, false, true); }                    \
  void __tsan_volatile_write##n(void* p) { hook(p, n, true, true); }                    \
  void __tsan_unaligned_volatile_read##n(void* p) { hook(p, n, false, false); }         \
  void __tsan_unaligned_volatile_write##n(void* p) { hook(p, n, true, false); }
ANVIL_EMU_HOOKS(1)
ANVIL_EMU_HOOKS(2)
ANVIL_EMU_HOOKS(4)
ANVIL_EMU_HOOKS(8)
ANVIL_EMU_HOOKS(16)
#undef ANVIL_EMU_HOOKS
void __tsan_read_range(void* p, unsigned long n) { hook(p, n, false, false); }
void __tsan_write_range(void* p, unsigned long n) { hook(p, n, true, false); }
void __tsan_init() {}
void __tsan_func_entry(void*) {}
void __tsan_func_exit() {}
void __tsan_vptr_update(void**, void*) {}
void __tsan_vptr_read(void**) {}

// Atomics in host code of the instrumented files (static-local guards, std::atomic): performed as
// asked. Memory-order arguments follow the __ATOMIC_* numbering the instrumentation passes.
#define ANVIL_EMU_ATOMICS(bits, T)                                                                         \
  T __tsan_atomic##bits##_load(const volatile T* a, int mo) { return __atomic_load_n(a, mo); }            \
  void __tsan_atomic##bits##_store(volatile T* a, T v, int mo) { __atomic_store_n(a, v, mo); }            \
  T __tsan_atomic##bits##_exchange(volatile T* a, T v, int mo) { return __atomic_exchange_n(a, v, mo); }  \
  T __tsan_atomic##bits##_fetch_add(volatile T* a, T v, int mo) { return __atomic_fetch_add(a, v, mo); }  \
  T __tsan_atomic##bits##_fetch_sub(volatile T* a, T v, int mo) { return __atomic_fetch_sub(a, v, mo); }  \
  T __tsan_atomic##bits##_fetch_and(volatile T* a, T v, int mo) { return __atomic_fetch_and(a, v, mo); }  \
  T __tsan_atomic##bits##_fetch_or(volatile T* a, T v, int mo) { return __atomic_fetch_or(a, v, mo); }    \
  int __tsan_atomic##bits##_compare_exchange_strong(volatile T* a, T* expected, T v, int mo, int fail_mo) { \
    return __atomic_compare_exchange_n(a, expected, v, false, mo, fail_mo);                               \
  }                                                                                                       \
  int __tsan_atomic##bits##_compare_exchange_weak(volatile T* a, T* expected, T v, int mo, int fail_mo) {   \
    return __atomic_compare_exchange_n(a, expected, v, true, mo, fail_mo);                                \
  }                                                                                                       \
  T __tsan_atomic##bits##_compare_exchange_val(volatile T* a, T expected, T v, int mo, int fail_mo) {     \
    __atomic_compare_exchange_n(a, &expected, v, false, mo, fail_mo);                                     \
    return expected;                                                                                      \
  }
ANVIL_EMU_ATOMICS(8, unsigned char)
ANVIL_EMU_ATOMICS(16, unsigned short)
ANVIL_EMU_ATOMICS(32, unsigned)
ANVIL_EMU_ATOMICS(64, unsigned long long)
#undef ANVIL_EMU_ATOMICS
void __tsan_atomic_thread_fence(int mo) { __atomic_thread_fence(mo); }
void __tsan_atomic_signal_fence(int mo) { __atomic_signal_fence(mo); }
}
