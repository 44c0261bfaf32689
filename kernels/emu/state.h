// Emulator internals shared by its translation units: the running block and thread, device
// allocations, faults. Not for kernel code (that sees emu.h and device.h only).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/emu/emu.h"
#include "kernels/emu/fiber.h"

namespace anvil::emu {

// CUDA error codes the emulator raises (values as in cuda_runtime.h's cudaError_t).
enum class Fault : int {
  InvalidValue = 1,
  InvalidConfiguration = 9,
  IllegalAddress = 700,
  MisalignedAddress = 716,
  LaunchFailure = 719,
};

// Thrown inside an emulated thread; ends the launch with `code` and `what()` as the message.
struct KernelFault : std::runtime_error {
  KernelFault(Fault c, const std::string& message) : std::runtime_error(message), code(c) {}
  Fault code;
};

// Raises a fault from the running emulated thread, prefixed with kernel, block and thread.
[[noreturn]] void fault(Fault code, const std::string& what);

enum class WaitKind : uint8_t { Running, Block, Warp, Done };
enum class Collective : uint8_t { None, SyncWarp, Shfl, Ballot, Ldmatrix, Mma, MmaTf32 };
const char* collective_name(Collective c);

struct CpAsyncCopy {
  unsigned char* dst;
  const unsigned char* src;
  int bytes, src_bytes;
};

struct EmuThread {
  uint3 tid{};
  int linear = 0, warp = 0, lane = 0;
  WaitKind state = WaitKind::Running;
  // Memory-ordering epochs (the race check): barriers this thread has passed, block-wide and in its warp.
  uint32_t block_epoch = 0, warp_epoch = 0;

  // The collective this lane waits in, its operands and its result.
  Collective op = Collective::None;
  unsigned mask = 0;
  uint32_t in[10] = {};  // mma.sync: a0-a3, b0, b1, c0-c3
  int arg = 0, width = 32;
  const void* addr = nullptr;
  bool flag = false;
  uint32_t out[4] = {};

  // cp.async: committed groups not yet waited for, and the open group.
  std::deque<std::vector<CpAsyncCopy>> groups;
  std::vector<CpAsyncCopy> open_group;

  std::unique_ptr<Fiber> fiber;
  // > 0 while the emulator's own code runs on this thread's fiber: library code it shares with the
  // instrumented kernels (std::string, ...) may be an instrumented copy, and its accesses are not
  // the kernel's.
  int in_runtime = 0;
};

// Marks the emulator's own code for the access hooks (see EmuThread::in_runtime).
class RuntimeScope {
 public:
  RuntimeScope();
  ~RuntimeScope() {
    if (t_) --t_->in_runtime;
  }
  RuntimeScope(const RuntimeScope&) = delete;
  RuntimeScope& operator=(const RuntimeScope&) = delete;

 private:
  EmuThread* t_;
};

struct EmuBlock {
  const char* kernel = "";
  uint3 bid{};
  dim3 grid, block;
  int threads = 0, live = 0, at_barrier = 0;
  std::vector<EmuThread>* pool = nullptr;  // [0, threads) are this block's
  std::vector<uint32_t> warp_epoch;        // per warp: __syncwarp generations completed
  std::vector<int> warp_waiting;           // per warp: lanes waiting in a collective
  std::vector<int> runnable;
  // Shared bytes read before any thread of the block wrote them (since the last barrier). A write by
  // another thread before the next barrier is a race (reported there); if none comes, the read saw
  // garbage, reported at that barrier or at the block's end (unwritten_read_fault).
  struct UnwrittenRead {
    uintptr_t addr;
    int reader;
    size_t offset;
    const char* space;
  };
  std::vector<UnwrittenRead> unwritten_reads;
  unsigned char* dynamic_shared = nullptr;
  size_t dynamic_shared_bytes = 0;
  uint32_t generation = 0;  // distinguishes this block's shadow entries from earlier blocks'
  bool faulted = false;
  Fault fault_code = Fault::LaunchFailure;
  std::string fault_message;
};

// The running thread and block: set while a fiber runs, null in host code.
extern thread_local EmuThread* g_thread;
extern thread_local EmuBlock* g_block;

inline RuntimeScope::RuntimeScope() : t_(g_thread) {
  if (t_) ++t_->in_runtime;
}

// Device allocations (runtime.cpp). Lookups happen while a launch holds the emulator lock.
struct Allocation {
  uintptr_t base;
  size_t bytes;
};
// The allocation holding [p, p + n), or null; *near is set to the closest one at or below p.
const Allocation* find_allocation(uintptr_t p, const Allocation** near);
// Changes whenever an allocation is made or freed (invalidates cached lookups).
uint64_t allocation_version();
// Bytes past each allocation's end that no other allocation uses (out-of-bounds accesses land there).
constexpr size_t kRedZone = 256;

// Access checks (access_check.cpp), also called by the emulated primitives for their own accesses:
// `aligned` asks for natural alignment (the access is one n-byte load or store); `shared_only` for
// an address in shared memory (ldmatrix, cp.async destinations).
void check_access_by(EmuThread& t, const void* p, size_t bytes, bool write, bool aligned, bool shared_only);
inline void check_access(const void* p, size_t bytes, bool write, bool aligned) {
  check_access_by(*g_thread, p, bytes, write, aligned, false);
}
void check_shared_destination(const void* p, size_t bytes);
// The per-byte race shadow forgets every earlier block (a new block starts).
void start_block_shadow(EmuBlock& block);
// The message for the block's first unwritten read, or "" when there is none.
std::string unwritten_read_fault(EmuBlock& block);

std::mutex& emulator_mutex();
std::string describe_thread();
std::string pointer_text(const void* p);

}  // namespace anvil::emu
