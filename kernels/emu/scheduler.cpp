// Launches, blocks, threads and everything threads do together: barriers, warp collectives,
// ldmatrix and mma.sync (from kernels/emu/fragments.h), cp.async groups. See emu.h for the model.
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <unordered_map>

#include "core/base/dtype.h"
#include "kernels/emu/fragments.h"
#include "kernels/emu/state.h"

namespace anvil::emu {

void record_launch_error(int code, const std::string& message, bool sticky);  // runtime.cpp
int sticky_error();                                                             // runtime.cpp
int max_dynamic_shared(const void* kernel);                                     // runtime.cpp
unsigned char* dynamic_shared_area();                                            // access_check.cpp

thread_local EmuThread* g_thread = nullptr;
thread_local EmuBlock* g_block = nullptr;

namespace {

constexpr size_t kFiberStackBytes = 64 * 1024;  // kernels keep small frames; faults format messages here too
constexpr unsigned kMaxThreadsPerBlock = 1024;
constexpr size_t kDefaultDynamicShared = 48 * 1024;

struct LaunchCall {
  KernelBody body;
  void* call;
};
thread_local LaunchCall g_call;
std::vector<EmuThread> g_pool;  // fibers reused across blocks and launches (under the emulator lock)
uint64_t g_seed = 0, g_launches = 0;
uint32_t g_generation = 0;

uint64_t default_seed() {
  const char* v = std::getenv("ANVIL_EMU_SEED");
  return v ? std::strtoull(v, nullptr, 10) : 1;
}

uint64_t splitmix(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::string dim_text(uint3 d) {
  std::ostringstream os;
  os << "(" << d.x << ", " << d.y << ", " << d.z << ")";
  return os.str();
}
std::string dim_text(dim3 d) { return dim_text(uint3{d.x, d.y, d.z}); }
std::string hex(unsigned v) {
  std::ostringstream os;
  os << "0x" << std::hex << v;
  return os.str();
}

EmuThread& thread_at(EmuBlock& b, int linear) { return (*b.pool)[size_t(linear)]; }

// A barrier or collective that cannot complete: the running thread gives control back until it
// is released (a faulted block is abandoned, never resumed).
void wait_here(EmuThread& t) { t.fiber->suspend(); }

void release_block_barrier(EmuBlock& b, EmuThread* self) {
  const std::string unwritten = unwritten_read_fault(b);
  if (!unwritten.empty()) {
    if (self != nullptr) throw KernelFault(Fault::LaunchFailure, unwritten);
    b.faulted = true;
    b.fault_code = Fault::LaunchFailure;
    b.fault_message = unwritten;
    return;
  }
  for (int i = 0; i < b.threads; ++i) {
    EmuThread& u = thread_at(b, i);
    if (u.state != WaitKind::Block) continue;
    u.state = WaitKind::Running;
    ++u.block_epoch;
    if (&u != self) b.runnable.push_back(i);
  }
  b.at_barrier = 0;
}

std::string lanes_text(unsigned lanes) {
  std::ostringstream os;
  bool first = true;
  for (int l = 0; l < 32; ++l) {
    if (!((lanes >> l) & 1u)) continue;
    os << (first ? "" : ", ") << l;
    first = false;
  }
  return os.str();
}

// The lanes of the caller's warp that exist (a last, partial warp has fewer than 32).
unsigned existing_lanes(const EmuBlock& b, int warp) {
  const int n = std::min(32, b.threads - warp * 32);
  return n >= 32 ? 0xffffffffu : ((1u << n) - 1u);
}

void compute_collective(EmuBlock& b, int warp, unsigned mask, Collective op);

// Arrival of the running thread at a warp collective whose operands it has stored. Returns when the
// collective has completed (its result is in t.out).
void arrive_at_collective(Collective op, unsigned mask) {
  EmuThread& t = *g_thread;
  EmuBlock& b = *g_block;
  if (!((mask >> t.lane) & 1u))
    fault(Fault::LaunchFailure, std::string(collective_name(op)) + " with member mask " + hex(mask) +
                                    " that does not name the calling lane " + std::to_string(t.lane));
  const unsigned exist = existing_lanes(b, t.warp);
  if (mask & ~exist)
    fault(Fault::LaunchFailure, std::string(collective_name(op)) + " with member mask " + hex(mask) +
                                    " naming lanes that do not exist in this warp of a block of " +
                                    std::to_string(b.threads) + " threads: " + lanes_text(mask & ~exist));
  t.op = op;
  t.mask = mask;
  t.state = WaitKind::Warp;
  // Complete when every lane of the mask waits here; until as many lanes as the mask names wait in
  // some collective of this warp, that cannot be yet.
  if (++b.warp_waiting[size_t(t.warp)] < __builtin_popcount(mask)) {
    wait_here(t);
    return;
  }
  for (int l = 0; l < 32; ++l) {
    if (!((mask >> l) & 1u)) continue;
    EmuThread& u = thread_at(b, t.warp * 32 + l);
    if (u.state == WaitKind::Done)
      fault(Fault::LaunchFailure, std::string(collective_name(op)) + " with member mask " + hex(mask) +
                                      " names lane " + std::to_string(l) + ", which has already exited");
    if (u.state != WaitKind::Warp) {
      wait_here(t);
      return;
    }
  }
  for (int l = 0; l < 32; ++l) {
    if (!((mask >> l) & 1u)) continue;
    EmuThread& u = thread_at(b, t.warp * 32 + l);
    if (u.op != op || u.mask != mask)
      fault(Fault::LaunchFailure, "lanes of one warp meet in different collectives: lane " + std::to_string(t.lane) +
                                      " in " + collective_name(op) + " (mask " + hex(mask) + "), lane " +
                                      std::to_string(l) + " in " + collective_name(u.op) + " (mask " + hex(u.mask) +
                                      ")");
  }
  compute_collective(b, t.warp, mask, op);
  b.warp_waiting[size_t(t.warp)] -= __builtin_popcount(mask);
  for (int l = 0; l < 32; ++l) {
    if (!((mask >> l) & 1u)) continue;
    EmuThread& u = thread_at(b, t.warp * 32 + l);
    u.state = WaitKind::Running;
    u.op = Collective::None;
    if (&u != &t) b.runnable.push_back(t.warp * 32 + l);
  }
}

uint32_t pack_halves(uint16_t lo, uint16_t hi) { return uint32_t(lo) | (uint32_t(hi) << 16); }
float half_value(uint32_t reg, int half, bool bf16_inputs) {
  const uint16_t bits = uint16_t(half ? reg >> 16 : reg & 0xffffu);
  return bf16_inputs ? bf16_to_f32(bits) : f16_to_f32(bits);
}

// One mma.sync over the 32 lanes of a warp (lanes[0..31]): load_operands(lane, thread, A, B) fills
// A (16 x K) and B (K x 8) from that lane's registers in[0..5]; the accumulators C (16 x 8) come from
// in[6..9] and D = C + A B goes back to out[0..3], both by the ISA's C/D layout. Products of 16-bit
// and tf32 operands are exact in f32; the k sum runs in order (a GPU may differ in the last bits).
template <int K, typename LoadOperands>
void warp_mma(EmuThread* lanes, LoadOperands load_operands) {
  float A[16][K], B[K][8], C[16][8];
  for (int l = 0; l < 32; ++l) {
    load_operands(l, lanes[l], A, B);
    for (int i = 0; i < 4; ++i) {
      const auto e = fragments::mma_c_element(l, i);
      std::memcpy(&C[e.row][e.col], &lanes[l].in[6 + i], 4);
    }
  }
  for (int r = 0; r < 16; ++r)
    for (int c = 0; c < 8; ++c) {
      float acc = C[r][c];
      for (int k = 0; k < K; ++k) acc += A[r][k] * B[k][c];
      C[r][c] = acc;
    }
  for (int l = 0; l < 32; ++l)
    for (int i = 0; i < 4; ++i) {
      const auto e = fragments::mma_c_element(l, i);
      std::memcpy(&lanes[l].out[i], &C[e.row][e.col], 4);
    }
}

void compute_collective(EmuBlock& b, int warp, unsigned mask, Collective op) {
  auto lane_thread = [&](int l) -> EmuThread& { return thread_at(b, warp * 32 + l); };
  switch (op) {
    case Collective::SyncWarp: {
      const uint32_t gen = ++b.warp_epoch[size_t(warp)];
      for (int l = 0; l < 32; ++l)
        if ((mask >> l) & 1u) lane_thread(l).warp_epoch = gen;
      return;
    }
    case Collective::Ballot: {
      unsigned bits = 0;
      for (int l = 0; l < 32; ++l)
        if (((mask >> l) & 1u) && lane_thread(l).flag) bits |= 1u << l;
      for (int l = 0; l < 32; ++l)
        if ((mask >> l) & 1u) lane_thread(l).out[0] = bits;
      return;
    }
    case Collective::Shfl: {
      for (int l = 0; l < 32; ++l) {
        if (!((mask >> l) & 1u)) continue;
        EmuThread& u = lane_thread(l);
        const int width = u.width;
        if (width < 1 || width > 32 || (width & (width - 1)))
          fault(Fault::LaunchFailure, "__shfl_*_sync with width " + std::to_string(width) +
                                          " (a power of two from 1 to 32 is required)");
        const int base = l & ~(width - 1);
        int src = l;
        switch (u.in[1]) {  // mode: 0 idx, 1 xor, 2 up, 3 down
          case 0: src = base + (u.arg & (width - 1)); break;
          case 1: src = l ^ u.arg; if ((src & ~(width - 1)) != base) src = l; break;
          case 2: src = l - u.arg; if (src < base) src = l; break;
          case 3: src = l + u.arg; if (src >= base + width) src = l; break;
        }
        if (!((mask >> src) & 1u))
          fault(Fault::LaunchFailure, "lane " + std::to_string(l) + " shuffles from lane " + std::to_string(src) +
                                          ", which is not in the member mask " + hex(mask) + " (its value is undefined)");
        u.out[0] = lane_thread(src).in[0];
      }
      return;
    }
    case Collective::Ldmatrix: {
      const int count = lane_thread(0).arg;
      const bool trans = lane_thread(0).flag;
      uint16_t m[4][8][8];
      for (int i = 0; i < count; ++i) {
        for (int r = 0; r < 8; ++r) {
          EmuThread& supplier = lane_thread(8 * i + r);
          if (reinterpret_cast<uintptr_t>(supplier.addr) % 16 != 0)
            fault(Fault::MisalignedAddress, "ldmatrix row address " + pointer_text(supplier.addr) + " given by lane " +
                                                std::to_string(8 * i + r) + " is not 16-byte aligned");
          check_access_by(supplier, supplier.addr, 16, false, true, true);
          std::memcpy(m[i][r], supplier.addr, 16);
        }
      }
      for (int l = 0; l < 32; ++l) {
        EmuThread& u = lane_thread(l);
        for (int i = 0; i < count; ++i) {
          const auto e0 = fragments::ldmatrix_element(l, 0, trans), e1 = fragments::ldmatrix_element(l, 1, trans);
          u.out[i] = pack_halves(m[i][e0.row][e0.col], m[i][e1.row][e1.col]);
        }
      }
      return;
    }
    case Collective::Mma: {
      const bool bf16_inputs = lane_thread(0).flag;
      warp_mma<16>(&lane_thread(0), [&](int l, const EmuThread& u, float (*A)[16], float (*B)[8]) {
        if (u.flag != bf16_inputs) fault(Fault::LaunchFailure, "mma.sync lanes disagree on the input type");
        for (int reg = 0; reg < 4; ++reg)
          for (int h = 0; h < 2; ++h) {
            const auto e = fragments::mma_a_element(l, reg, h);
            A[e.row][e.col] = half_value(u.in[reg], h, bf16_inputs);
          }
        for (int reg = 0; reg < 2; ++reg)
          for (int h = 0; h < 2; ++h) {
            const auto e = fragments::mma_b_element(l, reg, h);
            B[e.row][e.col] = half_value(u.in[4 + reg], h, bf16_inputs);
          }
      });
      return;
    }
    case Collective::MmaTf32: {
      auto tf32_value = [](uint32_t bits) {
        bits &= 0xffffe000u;  // the tensor core reads 19 bits: sign, exponent, 10 mantissa bits
        float v;
        std::memcpy(&v, &bits, 4);
        return v;
      };
      warp_mma<8>(&lane_thread(0), [&](int l, const EmuThread& u, float (*A)[8], float (*B)[8]) {
        for (int reg = 0; reg < 4; ++reg) {
          const auto e = fragments::mma_tf32_a_element(l, reg);
          A[e.row][e.col] = tf32_value(u.in[reg]);
        }
        for (int reg = 0; reg < 2; ++reg) {
          const auto e = fragments::mma_tf32_b_element(l, reg);
          B[e.row][e.col] = tf32_value(u.in[4 + reg]);
        }
      });
      return;
    }
    case Collective::None: break;
  }
}

// What every waiting thread waits for, when no thread can run.
std::string deadlock_text(EmuBlock& b) {
  std::ostringstream os;
  int at_block = 0, at_warp = 0;
  std::string example;
  for (int i = 0; i < b.threads; ++i) {
    EmuThread& u = thread_at(b, i);
    if (u.state == WaitKind::Block) ++at_block;
    if (u.state != WaitKind::Warp) continue;
    ++at_warp;
    if (!example.empty()) continue;
    std::ostringstream ex;
    ex << "; e.g. thread " << dim_text(u.tid) << " waits in " << collective_name(u.op) << " (mask " << hex(u.mask)
       << ") for";
    for (int l = 0; l < 32; ++l) {
      if (!((u.mask >> l) & 1u)) continue;
      EmuThread& v = thread_at(b, u.warp * 32 + l);
      if (v.state == WaitKind::Warp && v.op == u.op) continue;
      ex << " lane " << l << " ("
         << (v.state == WaitKind::Block ? "at __syncthreads" : v.state == WaitKind::Done ? "exited" : collective_name(v.op))
         << ")";
    }
    example = ex.str();
  }
  os << "deadlock in block " << dim_text(b.bid) << ": no thread can run; " << at_block << " of " << b.live
     << " live threads wait at __syncthreads, " << at_warp << " in warp collectives" << example;
  return os.str();
}

void thread_main(void* arg) {
  EmuThread& t = *static_cast<EmuThread*>(arg);
  EmuBlock& b = *g_block;
  try {
    g_call.body(g_call.call);
    ++t.in_runtime;  // from here on, only the emulator runs on this fiber
    // Copies still in flight when the thread exits complete with nobody waiting; nothing reads them.
    t.groups.clear();
    t.open_group.clear();
  } catch (const KernelFault& f) {
    ++t.in_runtime;
    if (!b.faulted) {
      b.faulted = true;
      b.fault_code = f.code;
      b.fault_message = f.what();
    }
  } catch (const std::exception& e) {
    ++t.in_runtime;
    if (!b.faulted) {
      b.faulted = true;
      b.fault_code = Fault::LaunchFailure;
      b.fault_message = std::string("kernel threw a host exception: ") + e.what();
    }
  }
  t.state = WaitKind::Done;
  --b.live;
  if (!b.faulted) {
    // An exited thread no longer holds back __syncthreads; lanes waiting for it in a collective
    // would wait forever.
    if (b.at_barrier > 0 && b.at_barrier == b.live) release_block_barrier(b, nullptr);
    for (int l = 0; l < 32 && !b.faulted; ++l) {
      const int i = t.warp * 32 + l;
      if (i >= b.threads) break;
      EmuThread& u = thread_at(b, i);
      if (u.state == WaitKind::Warp && ((u.mask >> t.lane) & 1u)) {
        b.faulted = true;
        b.fault_code = Fault::LaunchFailure;
        b.fault_message = std::string("kernel ") + b.kernel + " block " + dim_text(b.bid) + ": thread " +
                          dim_text(t.tid) + " exited while lane " + std::to_string(l) + " waits for it in " +
                          collective_name(u.op) + " (mask " + hex(u.mask) + ")";
      }
    }
  }
  t.fiber->suspend();  // never resumed
  std::abort();
}

void run_block(EmuBlock& b, uint64_t& rng) {
  b.generation = ++g_generation;
  start_block_shadow(b);
  b.live = b.threads;
  b.at_barrier = 0;
  b.warp_epoch.assign(size_t((b.threads + 31) / 32), 0);
  b.warp_waiting.assign(size_t((b.threads + 31) / 32), 0);
  b.runnable.clear();
  for (int i = 0; i < b.threads; ++i) {
    EmuThread& t = thread_at(b, i);
    t.tid = uint3{unsigned(i) % b.block.x, (unsigned(i) / b.block.x) % b.block.y, unsigned(i) / (b.block.x * b.block.y)};
    t.linear = i;
    t.warp = i / 32;
    t.lane = i % 32;
    t.state = WaitKind::Running;
    t.block_epoch = t.warp_epoch = 0;
    t.op = Collective::None;
    if (!t.groups.empty()) t.groups.clear();
    t.open_group.clear();
    t.in_runtime = 0;
    t.fiber->reset(&thread_main, &t);
    b.runnable.push_back(i);
  }
  while (!b.faulted) {
    if (b.runnable.empty()) {
      if (b.live == 0) break;
      b.faulted = true;
      b.fault_code = Fault::LaunchFailure;
      b.fault_message = std::string("kernel ") + b.kernel + ": " + deadlock_text(b);
      break;
    }
    // Which thread runs next is shuffled per seed, so a result that depends on an order the barriers
    // do not fix differs between seeds.
    const size_t k = size_t(splitmix(rng) % b.runnable.size());
    const int i = b.runnable[k];
    b.runnable[k] = b.runnable.back();
    b.runnable.pop_back();
    EmuThread& t = thread_at(b, i);
    g_thread = &t;
    t.fiber->resume();
    g_thread = nullptr;
  }
  if (!b.faulted) {
    const std::string unwritten = unwritten_read_fault(b);
    if (!unwritten.empty()) {
      b.faulted = true;
      b.fault_code = Fault::LaunchFailure;
      b.fault_message = unwritten;
    }
  }
}

}  // namespace

const char* collective_name(Collective c) {
  switch (c) {
    case Collective::SyncWarp: return "__syncwarp";
    case Collective::Shfl: return "__shfl_*_sync";
    case Collective::Ballot: return "__ballot_sync";
    case Collective::Ldmatrix: return "ldmatrix";
    case Collective::Mma: return "mma.sync";
    case Collective::MmaTf32: return "mma.sync (tf32)";
    case Collective::None: break;
  }
  return "(none)";
}

std::string describe_thread() {
  if (g_block == nullptr) return "host code";
  std::ostringstream os;
  os << "kernel " << g_block->kernel << ", block " << dim_text(g_block->bid);
  if (g_thread) os << ", thread " << dim_text(g_thread->tid);
  return os.str();
}

void fault(Fault code, const std::string& what) {
  if (g_thread == nullptr) throw std::logic_error("emulator fault outside a kernel: " + what);
  throw KernelFault(code, describe_thread() + ": " + what);
}

void set_schedule_seed(uint64_t seed) {
  std::lock_guard<std::mutex> lock(emulator_mutex());
  g_seed = seed;
  g_launches = 0;
}

uint3 thread_idx() {
  if (!g_thread) std::abort();
  return g_thread->tid;
}
uint3 block_idx() {
  if (!g_block) std::abort();
  return g_block->bid;
}
dim3 block_dim() {
  if (!g_block) std::abort();
  return g_block->block;
}
dim3 grid_dim() {
  if (!g_block) std::abort();
  return g_block->grid;
}
unsigned char* dynamic_shared() { return g_block->dynamic_shared; }

void syncthreads() {
  RuntimeScope scope;
  EmuThread& t = *g_thread;
  EmuBlock& b = *g_block;
  t.state = WaitKind::Block;
  if (++b.at_barrier == b.live) {
    release_block_barrier(b, &t);
    return;
  }
  wait_here(t);
}

void syncwarp(unsigned mask) {
  RuntimeScope scope;
  arrive_at_collective(Collective::SyncWarp, mask);
}

namespace {
uint32_t shuffle(unsigned mask, uint32_t value, int mode, int arg, int width) {
  RuntimeScope scope;
  EmuThread& t = *g_thread;
  t.in[0] = value;
  t.in[1] = uint32_t(mode);
  t.arg = arg;
  t.width = width;
  arrive_at_collective(Collective::Shfl, mask);
  return t.out[0];
}
}  // namespace

uint32_t shfl(unsigned mask, uint32_t v, int src, int width) { return shuffle(mask, v, 0, src, width); }
uint32_t shfl_xor(unsigned mask, uint32_t v, int lane_mask, int width) { return shuffle(mask, v, 1, lane_mask, width); }
uint32_t shfl_up(unsigned mask, uint32_t v, unsigned delta, int width) { return shuffle(mask, v, 2, int(delta), width); }
uint32_t shfl_down(unsigned mask, uint32_t v, unsigned delta, int width) {
  return shuffle(mask, v, 3, int(delta), width);
}

unsigned ballot(unsigned mask, bool predicate) {
  RuntimeScope scope;
  EmuThread& t = *g_thread;
  t.flag = predicate;
  arrive_at_collective(Collective::Ballot, mask);
  return t.out[0];
}

void ldmatrix(uint32_t* regs, int count, const void* row, bool transpose) {
  RuntimeScope scope;
  EmuThread& t = *g_thread;
  t.addr = row;
  t.arg = count;
  t.flag = transpose;
  // .sync.aligned: the whole warp executes it together.
  arrive_at_collective(Collective::Ldmatrix, existing_lanes(*g_block, t.warp));
  for (int i = 0; i < count; ++i) regs[i] = t.out[i];
}

namespace {
// A lane's arrival at an mma.sync: operands into in[0..9], D back from out[0..3].
void arrive_at_mma(Collective op, float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1, bool flag) {
  EmuThread& t = *g_thread;
  for (int i = 0; i < 4; ++i) t.in[i] = a[i];
  t.in[4] = b0;
  t.in[5] = b1;
  for (int i = 0; i < 4; ++i) std::memcpy(&t.in[6 + i], &d[i], 4);
  t.flag = flag;
  if (existing_lanes(*g_block, t.warp) != 0xffffffffu)
    fault(Fault::LaunchFailure, "mma.sync in a warp with fewer than 32 threads");
  arrive_at_collective(op, 0xffffffffu);
  for (int i = 0; i < 4; ++i) std::memcpy(&d[i], &t.out[i], 4);
}
}  // namespace

void mma_m16n8k16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1, bool bf16_inputs) {
  RuntimeScope scope;
  arrive_at_mma(Collective::Mma, d, a, b0, b1, bf16_inputs);
}

void mma_m16n8k8_tf32(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  RuntimeScope scope;
  arrive_at_mma(Collective::MmaTf32, d, a, b0, b1, false);
}

uint32_t to_tf32(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, 4);
  if ((bits & 0x7f800000u) == 0x7f800000u) return bits;  // inf and NaN pass through
  bits += 0x1000u;                                       // half of the dropped 13 bits: ties away from zero
  return bits & 0xffffe000u;
}

void cp_async(void* dst, const void* src, int copy_bytes, int src_bytes) {
  RuntimeScope scope;
  if (copy_bytes != 4 && copy_bytes != 8 && copy_bytes != 16)
    fault(Fault::LaunchFailure, "cp.async of " + std::to_string(copy_bytes) + " bytes (4, 8 or 16 allowed)");
  if (src_bytes < 0 || src_bytes > copy_bytes)
    fault(Fault::LaunchFailure, "cp.async source size " + std::to_string(src_bytes) + " outside [0, " +
                                    std::to_string(copy_bytes) + "]");
  if (reinterpret_cast<uintptr_t>(dst) % unsigned(copy_bytes) != 0)
    fault(Fault::MisalignedAddress, "cp.async shared destination " + pointer_text(dst) + " is not " +
                                        std::to_string(copy_bytes) + "-byte aligned");
  if (reinterpret_cast<uintptr_t>(src) % unsigned(copy_bytes) != 0)
    fault(Fault::MisalignedAddress, "cp.async global source " + pointer_text(src) + " is not " +
                                        std::to_string(copy_bytes) + "-byte aligned");
  check_shared_destination(dst, size_t(copy_bytes));
  if (src_bytes > 0) check_access(src, size_t(src_bytes), false, false);
  g_thread->open_group.push_back(
      CpAsyncCopy{static_cast<unsigned char*>(dst), static_cast<const unsigned char*>(src), copy_bytes, src_bytes});
}

void cp_async_commit() {
  RuntimeScope scope;
  EmuThread& t = *g_thread;
  t.groups.push_back(std::move(t.open_group));
  t.open_group.clear();
}

void cp_async_wait(int pending) {
  RuntimeScope scope;
  // The copies land only now: a stage read before its wait_group sees what was there before.
  EmuThread& t = *g_thread;
  while (t.groups.size() > size_t(pending < 0 ? 0 : pending)) {
    for (const CpAsyncCopy& c : t.groups.front()) {
      unsigned char tmp[16] = {};
      if (c.src_bytes > 0) std::memcpy(tmp, c.src, size_t(c.src_bytes));
      check_access(c.dst, size_t(c.bytes), true, true);
      std::memcpy(c.dst, tmp, size_t(c.bytes));
    }
    t.groups.pop_front();
  }
}

int launch(const void* kernel, const char* name, dim3 grid, dim3 block, size_t smem_bytes, void* stream,
           KernelBody body, void* bound_call) {
  (void)stream;  // every launch runs to completion before it returns: stream order holds trivially
  std::lock_guard<std::mutex> lock(emulator_mutex());
  if (const int sticky = sticky_error()) return sticky;
  const std::string who = std::string("launch of ") + name + " with grid " + dim_text(grid) + ", block " +
                          dim_text(block) + ", " + std::to_string(smem_bytes) + " bytes of dynamic shared memory: ";
  const uint64_t threads = uint64_t(block.x) * block.y * block.z;
  if (threads == 0 || threads > kMaxThreadsPerBlock || block.x > 1024 || block.y > 1024 || block.z > 64) {
    record_launch_error(int(Fault::InvalidConfiguration),
                        who + "a block has at most 1024 threads, with x, y <= 1024 and z <= 64", false);
    return int(Fault::InvalidConfiguration);
  }
  if (grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.x > 0x7fffffffu || grid.y > 65535 || grid.z > 65535) {
    record_launch_error(int(Fault::InvalidConfiguration), who + "grid x must be in [1, 2^31 - 1], y and z in [1, 65535]",
                        false);
    return int(Fault::InvalidConfiguration);
  }
  const int allowed = max_dynamic_shared(kernel);
  if (smem_bytes > size_t(allowed)) {
    record_launch_error(int(Fault::InvalidValue),
                        who + "more dynamic shared memory than the kernel may use (" + std::to_string(allowed) +
                            " bytes; above " + std::to_string(kDefaultDynamicShared) +
                            " it needs cudaFuncSetAttribute(cudaFuncAttributeMaxDynamicSharedMemorySize))",
                        false);
    return int(Fault::InvalidValue);
  }
  if (g_pool.size() < threads) {
    g_pool.resize(threads);
  }
  for (EmuThread& t : g_pool)
    if (!t.fiber) t.fiber = std::make_unique<Fiber>(kFiberStackBytes);

  uint64_t rng = (g_seed ? g_seed : (g_seed = default_seed())) * 0x100000001B3ull + (++g_launches);
  g_call = LaunchCall{body, bound_call};
  EmuBlock b;
  b.kernel = name;
  b.grid = grid;
  b.block = block;
  b.threads = int(threads);
  b.pool = &g_pool;
  b.dynamic_shared = dynamic_shared_area();
  b.dynamic_shared_bytes = smem_bytes;
  g_block = &b;
  for (unsigned z = 0; z < grid.z && !b.faulted; ++z)
    for (unsigned y = 0; y < grid.y && !b.faulted; ++y)
      for (unsigned x = 0; x < grid.x && !b.faulted; ++x) {
        b.bid = uint3{x, y, z};
        run_block(b, rng);
      }
  g_block = nullptr;
  if (b.faulted) {
    record_launch_error(int(b.fault_code), b.fault_message, true);
    return int(b.fault_code);
  }
  return 0;
}

}  // namespace anvil::emu
