// Kernels with one planted bug each (and twins without it) for the emulator's self-test
// (emulator_selftest.cpp). Compiled only in the -DANVIL_CUDA=EMULATE build, as emulated kernel code:
// on a GPU these would fault or hang.
#include "tests/emu/planted_bugs.h"

#include <cuda_runtime.h>

#include <functional>
#include <map>
#include <stdexcept>
#include <vector>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ptx.cuh"

namespace anvil::emutest {

namespace {

using kernels::cuda::detail::launch;
namespace kc = kernels::cuda;

// Device buffers of one case, freed after the sticky error (if any) is cleared.
struct Pool {
  std::vector<void*> blocks;
  template <typename T>
  T* alloc(size_t count) {
    void* p = nullptr;
    ANVIL_CUDA_CHECK(cudaMalloc(&p, count * sizeof(T)));
    blocks.push_back(p);
    return static_cast<T*>(p);
  }
  template <typename T>
  T* upload(const std::vector<T>& host) {
    T* d = alloc<T>(host.size());
    ANVIL_CUDA_CHECK(cudaMemcpy(d, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice));
    return d;
  }
  template <typename T>
  std::vector<T> download(const T* d, size_t count) {
    std::vector<T> host(count);
    ANVIL_CUDA_CHECK(cudaMemcpy(host.data(), d, count * sizeof(T), cudaMemcpyDeviceToHost));
    return host;
  }
  ~Pool() {
    for (void* p : blocks) cudaFree(p);
  }
};

std::vector<float> iota(size_t n) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = float(i) + 0.5f;
  return v;
}

// ---- global memory -------------------------------------------------------------------------------
__global__ void shift_read(const float* in, float* out, int n, int shift) {
  const int i = int(threadIdx.x);
  if (i < n) out[i] = in[i + shift];  // shift 1 reads one past the end
}
__global__ void shift_write(float* out, int n, int shift) {
  const int i = int(threadIdx.x);
  if (i < n) out[i + shift] = 1.0f;
}
__global__ void vector_read(const float* in, float* out, int offset) {
  const float4 v = *reinterpret_cast<const float4*>(in + offset);  // offset 1: 4-byte aligned only
  out[threadIdx.x] = v.x + v.y + v.z + v.w;
}
__global__ void word_read(const unsigned char* in, unsigned* out, int offset) {
  out[threadIdx.x] = *reinterpret_cast<const unsigned*>(in + offset);
}

// ---- shared memory -------------------------------------------------------------------------------
// Each thread writes its slot, then reads its neighbour's: a race unless a barrier separates them.
__global__ void neighbour_exchange(float* out, bool barrier) {
  __shared__ float slots[128];
  const int t = int(threadIdx.x);
  slots[t] = float(t);
  if (barrier) __syncthreads();
  out[t] = slots[(t + 1) % int(blockDim.x)];
}
// Read the neighbour's slot, then overwrite one's own: the neighbour's read races with the write.
__global__ void read_then_overwrite(float* out, bool barrier) {
  __shared__ float slots[128];
  const int t = int(threadIdx.x);
  slots[t] = float(t);
  __syncthreads();
  const float v = slots[(t + 1) % int(blockDim.x)];
  if (barrier) __syncthreads();
  slots[t] = -v;
  out[t] = v;
}
// (`fill` is false: the write keeps the compiler from folding a never-written static to zeros.)
__global__ void read_unwritten_shared(float* out, bool fill) {
  __shared__ float never_written[64];
  if (fill) never_written[threadIdx.x] = 1.0f;
  out[threadIdx.x] = never_written[threadIdx.x];
}
// Lanes swap through shared memory; only __syncwarp orders the write before the partner's read.
__global__ void warp_swap(float* out, bool syncwarp) {
  __shared__ float slots[32];
  const int lane = int(threadIdx.x);
  slots[lane] = float(lane);
  if (syncwarp) __syncwarp();
  out[lane] = slots[lane ^ 1];
}
__global__ void dynamic_fill(float* out, int count) {
  ANVIL_DYNAMIC_SHARED_BYTES(dyn);
  float* f = reinterpret_cast<float*>(dyn);
  for (int i = int(threadIdx.x); i < count; i += int(blockDim.x)) f[i] = float(i);
  __syncthreads();
  out[threadIdx.x] = f[threadIdx.x];
}

// ---- warp collectives ----------------------------------------------------------------------------
__global__ void shuffle_after_half_exit(float* out) {
  const int lane = int(threadIdx.x) % 32;
  if (lane >= 16) return;
  out[lane] = __shfl_xor_sync(0xffffffffu, float(lane), 1);
}
__global__ void shuffle_from_outside_mask(float* out) {
  const int lane = int(threadIdx.x) % 32;
  if (lane < 16) out[lane] = __shfl_sync(0x0000ffffu, float(lane), 20);
}
__global__ void barrier_against_shuffle(float* out) {
  const int lane = int(threadIdx.x) % 32;
  float v = float(lane);
  if (lane == 0)
    __syncthreads();
  else
    v = __shfl_xor_sync(0xffffffffu, v, 1);
  out[lane] = v;
}
__global__ void warp_sums(float* out) {
  out[threadIdx.x] = kc::warp_sum(float(threadIdx.x));
}

// ---- cp.async, ldmatrix, mma ---------------------------------------------------------------------
// Shared starts at -1; 16-byte chunks are copied in with cp.async; `wait` decides whether the
// thread waits for its group before reading.
__global__ void async_copy(const float* in, float* out, bool wait, int src_offset) {
  __shared__ __align__(16) float tile[128];
  const int t = int(threadIdx.x);  // 32 threads, 4 floats each
  for (int i = 0; i < 4; ++i) tile[4 * t + i] = -1.0f;
  __syncthreads();
  kc::cp_async_16(&tile[4 * t], in + 4 * t + src_offset, true);
  kc::cp_async_commit();
  if (wait) kc::cp_async_wait<0>();
  for (int i = 0; i < 4; ++i) out[4 * t + i] = tile[4 * t + i];
  kc::cp_async_wait<0>();
}

// One m16n8k16 product on one warp. A (16 x 16, row-major) and B (16 x 8, row-major: element (k, n)
// at k * 8 + n) in global memory as bf16. A's fragments come either straight from the ISA's A layout
// (register r of lane l: rows l/4 (+8 for r odd), columns 2(l%4) (+8 for r >= 2)) or through shared
// memory and ldmatrix.x4; B's from the ISA's B layout; D is written back through the C layout.
__global__ void one_mma(const bf16* a, const bf16* b, float* d, bool use_ldmatrix) {
  __shared__ __align__(16) bf16 sa[16 * 16];
  const int lane = int(threadIdx.x), g = lane / 4, t = lane % 4;
  auto pack = [](bf16 lo, bf16 hi) { return uint32_t(lo.bits) | (uint32_t(hi.bits) << 16); };
  uint32_t af[4];
  if (use_ldmatrix) {
    for (int i = lane; i < 256; i += 32) sa[i] = a[i];
    __syncwarp();
    // Matrices 0..3 = A's quadrants (rows 0-7 | 8-15) x (cols 0-7 | 8-15) in register order
    // (top-left, bottom-left, top-right, bottom-right); lane l gives row l%8 of matrix l/8.
    const int m = lane / 8, r = lane % 8;
    kc::ldmatrix_x4(af, &sa[(r + (m % 2) * 8) * 16 + (m / 2) * 8]);
  } else {
    for (int r = 0; r < 4; ++r) {
      const int row = g + (r % 2) * 8, col = 2 * t + (r / 2) * 8;
      af[r] = pack(a[row * 16 + col], a[row * 16 + col + 1]);
    }
  }
  const uint32_t b0 = pack(b[(2 * t) * 8 + g], b[(2 * t + 1) * 8 + g]);
  const uint32_t b1 = pack(b[(2 * t + 8) * 8 + g], b[(2 * t + 9) * 8 + g]);
  float acc[4] = {1.0f, 1.0f, 1.0f, 1.0f};  // C = 1
  kc::mma_16816<bf16>(acc, af, b0, b1);
  for (int i = 0; i < 4; ++i) d[(g + (i / 2) * 8) * 8 + 2 * t + (i % 2)] = acc[i];
}

// ---- scheduling ----------------------------------------------------------------------------------
__global__ void arrival_order(int* counter, int* order) {
  const int slot = atomicAdd(counter, 1);
  order[slot] = int(threadIdx.x);
}

std::vector<float> run_mma(bool use_ldmatrix, const std::vector<float>& A, const std::vector<float>& B) {
  Pool pool;
  std::vector<bf16> a(A.size()), b(B.size());
  for (size_t i = 0; i < A.size(); ++i) a[i] = bf16{f32_to_bf16(A[i])};
  for (size_t i = 0; i < B.size(); ++i) b[i] = bf16{f32_to_bf16(B[i])};
  bf16* da = pool.upload(a);
  bf16* db = pool.upload(b);
  float* dd = pool.alloc<float>(128);
  ANVIL_LAUNCH(one_mma, dim3(1), dim3(32), 0, nullptr, da, db, dd, use_ldmatrix);
  return pool.download(dd, 128);
}

}  // namespace

std::string run_case(const std::string& name) {
  static const std::map<std::string, std::function<void(Pool&)>> cases = {
      {"read past the end", [](Pool& p) {
         float* in = p.upload(iota(64));
         ANVIL_LAUNCH(shift_read, dim3(1), dim3(64), 0, nullptr, in, p.alloc<float>(64), 64, 1);
       }},
      {"read in bounds", [](Pool& p) {
         float* in = p.upload(iota(64));
         ANVIL_LAUNCH(shift_read, dim3(1), dim3(64), 0, nullptr, in, p.alloc<float>(64), 64, 0);
       }},
      {"write past the end", [](Pool& p) {
         ANVIL_LAUNCH(shift_write, dim3(1), dim3(64), 0, nullptr, p.alloc<float>(64), 64, 1);
       }},
      {"misaligned float4", [](Pool& p) {
         ANVIL_LAUNCH(vector_read, dim3(1), dim3(32), 0, nullptr, p.upload(iota(64)), p.alloc<float>(32), 1);
       }},
      {"aligned float4", [](Pool& p) {
         ANVIL_LAUNCH(vector_read, dim3(1), dim3(32), 0, nullptr, p.upload(iota(64)), p.alloc<float>(32), 4);
       }},
      {"misaligned word", [](Pool& p) {
         ANVIL_LAUNCH(word_read, dim3(1), dim3(1), 0, nullptr, p.alloc<unsigned char>(64), p.alloc<unsigned>(1), 2);
       }},
      {"host pointer", [](Pool& p) {
         static std::vector<float> host(64, 1.0f);
         ANVIL_LAUNCH(shift_read, dim3(1), dim3(64), 0, nullptr, host.data(), p.alloc<float>(64), 64, 0);
       }},
      {"use after free", [](Pool& p) {
         float* in = nullptr;
         ANVIL_CUDA_CHECK(cudaMalloc(&in, 64 * sizeof(float)));
         ANVIL_CUDA_CHECK(cudaFree(in));
         ANVIL_LAUNCH(shift_read, dim3(1), dim3(64), 0, nullptr, in, p.alloc<float>(64), 64, 0);
       }},
      {"missing __syncthreads", [](Pool& p) {
         ANVIL_LAUNCH(neighbour_exchange, dim3(1), dim3(128), 0, nullptr, p.alloc<float>(128), false);
       }},
      {"with __syncthreads", [](Pool& p) {
         float* out = p.alloc<float>(128);
         ANVIL_LAUNCH(neighbour_exchange, dim3(1), dim3(128), 0, nullptr, out, true);
         const auto got = p.download(out, 128);
         for (int t = 0; t < 128; ++t)
           if (got[size_t(t)] != float((t + 1) % 128)) throw std::runtime_error("wrong neighbour value");
       }},
      {"write after an unordered read", [](Pool& p) {
         ANVIL_LAUNCH(read_then_overwrite, dim3(1), dim3(128), 0, nullptr, p.alloc<float>(128), false);
       }},
      {"write after a barrier", [](Pool& p) {
         ANVIL_LAUNCH(read_then_overwrite, dim3(1), dim3(128), 0, nullptr, p.alloc<float>(128), true);
       }},
      {"unwritten shared", [](Pool& p) {
         ANVIL_LAUNCH(read_unwritten_shared, dim3(1), dim3(64), 0, nullptr, p.alloc<float>(64), false);
       }},
      {"missing __syncwarp", [](Pool& p) {
         ANVIL_LAUNCH(warp_swap, dim3(1), dim3(32), 0, nullptr, p.alloc<float>(32), false);
       }},
      {"with __syncwarp", [](Pool& p) {
         ANVIL_LAUNCH(warp_swap, dim3(1), dim3(32), 0, nullptr, p.alloc<float>(32), true);
       }},
      {"dynamic shared above 48 KiB without the attribute", [](Pool& p) {
         ANVIL_LAUNCH(dynamic_fill, dim3(1), dim3(64), 64 * 1024, nullptr, p.alloc<float>(64), 64);
       }},
      {"dynamic shared above 48 KiB with the attribute", [](Pool& p) {
         ANVIL_CUDA_CHECK(cudaFuncSetAttribute(dynamic_fill, cudaFuncAttributeMaxDynamicSharedMemorySize, 64 * 1024));
         ANVIL_LAUNCH(dynamic_fill, dim3(1), dim3(64), 64 * 1024, nullptr, p.alloc<float>(64), 64);
       }},
      {"dynamic shared past the launch's bytes", [](Pool& p) {
         ANVIL_LAUNCH(dynamic_fill, dim3(1), dim3(64), 64 * sizeof(float), nullptr, p.alloc<float>(64), 65);
       }},
      {"block of 2048 threads", [](Pool& p) {
         ANVIL_LAUNCH(warp_sums, dim3(1), dim3(2048), 0, nullptr, p.alloc<float>(2048));
       }},
      {"grid y of 70000", [](Pool& p) {
         ANVIL_LAUNCH(warp_sums, dim3(1, 70000), dim3(32), 0, nullptr, p.alloc<float>(32));
       }},
      {"shuffle with an exited lane", [](Pool& p) {
         ANVIL_LAUNCH(shuffle_after_half_exit, dim3(1), dim3(32), 0, nullptr, p.alloc<float>(32));
       }},
      {"shuffle from outside the mask", [](Pool& p) {
         ANVIL_LAUNCH(shuffle_from_outside_mask, dim3(1), dim3(32), 0, nullptr, p.alloc<float>(32));
       }},
      {"barrier against a shuffle", [](Pool& p) {
         ANVIL_LAUNCH(barrier_against_shuffle, dim3(1), dim3(32), 0, nullptr, p.alloc<float>(32));
       }},
      {"warp sum in a partial warp", [](Pool& p) {
         ANVIL_LAUNCH(warp_sums, dim3(1), dim3(48), 0, nullptr, p.alloc<float>(48));
       }},
      {"warp sum", [](Pool& p) {
         float* out = p.alloc<float>(64);
         ANVIL_LAUNCH(warp_sums, dim3(1), dim3(64), 0, nullptr, out);
         const auto got = p.download(out, 64);
         if (got[0] != 496.0f || got[63] != 1520.0f) throw std::runtime_error("wrong warp sums");
       }},
      {"cp.async from a misaligned source", [](Pool& p) {
         ANVIL_LAUNCH(async_copy, dim3(1), dim3(32), 0, nullptr, p.upload(iota(132)), p.alloc<float>(128), true, 1);
       }},
  };
  auto it = cases.find(name);
  if (it == cases.end()) throw std::invalid_argument("no planted case named " + name);
  std::string error;
  {
    Pool pool;
    try {
      it->second(pool);
    } catch (const std::exception& e) {
      error = e.what();
    }
    cudaDeviceReset();  // clears the sticky error so the pool can be freed and the next case runs
  }
  return error.empty() ? "" : error;
}

std::vector<float> async_copy_result(bool wait) {
  Pool pool;
  float* out = pool.alloc<float>(128);
  ANVIL_LAUNCH(async_copy, dim3(1), dim3(32), 0, nullptr, pool.upload(iota(128)), out, wait, 0);
  return pool.download(out, 128);
}

std::vector<float> mma_result(bool use_ldmatrix, const std::vector<float>& A, const std::vector<float>& B) {
  return run_mma(use_ldmatrix, A, B);
}

std::vector<int> arrival_order_for_seed(uint64_t seed) {
  emu::set_schedule_seed(seed);
  Pool pool;
  int* counter = pool.upload(std::vector<int>{0});
  int* order = pool.alloc<int>(256);
  ANVIL_LAUNCH(arrival_order, dim3(1), dim3(256), 0, nullptr, counter, order);
  return pool.download(order, 256);
}

}  // namespace anvil::emutest
