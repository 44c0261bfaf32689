// CUDA GEMM, tensor-core and simple fallback (see matmul.h for the API).
//
// Math: C (M, N) = epilogue(alpha * op(A) (M, K) @ op(B) (K, N) + beta * C), per batch matrix.
// Trick (tensor-core kernel, mma_sync_128x128x32_3stage):
//   - a 128 x 128 block tile, 8 warps as 2 (M) x 4 (N), each warp 64 x 32 = 4 x 4 mma.m16n8k16
//     tiles with fp32 accumulators in registers;
//   - global -> shared by cp.async (16 bytes, zero-filled past the matrix edge) in a 3-stage ring,
//     so two K-slices of 32 are in flight while the third is multiplied;
//   - shared -> registers by ldmatrix (.trans for operands whose contiguous dim is M or N), so
//     all four transpose combinations read their operands in place; shared rows are padded by 16
//     bytes, which puts the 8 row addresses of each ldmatrix phase in 8 distinct bank groups;
//   - the epilogue applies alpha, beta * C, bias and GELU in registers and stores pairs.
//   Preconditions (gemm_tensor_core_can_run): every 16-byte chunk along a contiguous dim is fully
//   inside or fully outside the matrix, hence sizes, leading dims and strides multiples of 8.
// Simple kernel: 16 x 16 shared tiles, one output per thread, fp32 FMA, any stride and dtype.
// Gradients: callers get `+=` by beta = 1 (weight gradients) and `=` by beta = 0 (activations).
// Speed: not yet measured (no GPU lent).
#include <cstdint>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/matmul.h"
#include "kernels/cuda/ptx.cuh"

namespace anvil::kernels::cuda {

namespace {

constexpr int kBlockM = 128, kBlockN = 128, kBlockK = 32;
constexpr int kStages = 3;
constexpr int kGemmThreads = 256;  // 8 warps
constexpr int kWarpsN = 4;         // warps laid 2 x 4 over the block tile
constexpr int kWarpTileM = 64, kWarpTileN = 32;
constexpr int kMmaTilesM = kWarpTileM / 16, kMmaTilesN = kWarpTileN / 8;
constexpr int kPad = 8;                                      // halves of padding per shared row
constexpr int kStrideKMajor = kBlockK + kPad;                // tile (128 rows of M or N) x (32 of K)
constexpr int kStrideMNMajor = kBlockM + kPad;               // tile (32 rows of K) x (128 of M or N)
constexpr int kTileHalves = kBlockM * kStrideKMajor;         // >= kBlockK * kStrideMNMajor
constexpr int kSmemBytes = kStages * 2 * kTileHalves * 2;    // A and B, every stage
static_assert(kBlockK * kStrideMNMajor <= kTileHalves, "stage slot too small for the M/N-major tile");
static_assert(kBlockM == kBlockN, "tile loaders assume square block tiles");
static_assert((kStrideKMajor * 2) % 16 == 0 && (kStrideMNMajor * 2) % 16 == 0, "rows must stay 16-byte aligned");

// Copies one operand's K-slice [k0, k0 + 32) into shared memory.
//   KMajor (contiguous along K): tile rows are M (or N) indices, 4 chunks of 8 halves per row.
//   otherwise (contiguous along M/N): tile rows are K indices, 16 chunks per row.
// `rows` is the operand's M (or N) extent, row0 the block's first M (or N) index.
template <bool KMajor, typename T>
__device__ __forceinline__ void load_tile(T* tile, const T* src, int64_t ld, int64_t rows, int64_t K, int64_t row0,
                                          int64_t k0) {
  constexpr int kChunks = kBlockM * kBlockK / 8;  // 512 chunks of 16 bytes
#pragma unroll
  for (int c = threadIdx.x; c < kChunks; c += kGemmThreads) {
    if constexpr (KMajor) {
      const int r = c / (kBlockK / 8), col = (c % (kBlockK / 8)) * 8;
      const int64_t gr = row0 + r, gk = k0 + col;
      const bool valid = gr < rows && gk < K;
      cp_async_16(tile + r * kStrideKMajor + col, valid ? src + gr * ld + gk : src, valid);
    } else {
      const int r = c / (kBlockM / 8), col = (c % (kBlockM / 8)) * 8;
      const int64_t gk = k0 + r, gr = row0 + col;
      const bool valid = gk < K && gr < rows;
      cp_async_16(tile + r * kStrideMNMajor + col, valid ? src + gk * ld + gr : src, valid);
    }
  }
}

struct Epilogue {
  float alpha, beta;
  const float* bias;  // null unless GemmEpilogue::Bias / BiasGelu
  bool gelu;
};

template <typename Out>
__device__ __forceinline__ void store_pair(Out* c, int64_t idx, float v0, float v1, float beta) {
  if (beta != 0.0f) {
    v0 += beta * load(c, idx);
    v1 += beta * load(c, idx + 1);
  }
  if constexpr (sizeof(Out) == 4) {
    *reinterpret_cast<float2*>(c + idx) = make_float2(v0, v1);
  } else {
    const uint32_t packed = uint32_t(from_f32<Out>(v0).bits) | (uint32_t(from_f32<Out>(v1).bits) << 16);
    *reinterpret_cast<uint32_t*>(c + idx) = packed;
  }
}

// One 128 x 128 tile of C per block; blockIdx.z is the batch index.
template <typename T, bool AKMajor, bool BKMajor, typename Out>
__global__ void __launch_bounds__(kGemmThreads) gemm_mma_kernel(int64_t M, int64_t N, int64_t K, const T* A,
                                                                int64_t lda, int64_t stride_a, const T* B,
                                                                int64_t ldb, int64_t stride_b, Out* C, int64_t ldc,
                                                                int64_t stride_c, Epilogue ep) {
  ANVIL_DYNAMIC_SHARED_BYTES(gemm_smem);
  T* smem = reinterpret_cast<T*>(gemm_smem);
  auto a_tile = [&](int stage) { return smem + stage * 2 * kTileHalves; };
  auto b_tile = [&](int stage) { return smem + stage * 2 * kTileHalves + kTileHalves; };

  A += blockIdx.z * stride_a;
  B += blockIdx.z * stride_b;
  C += blockIdx.z * stride_c;
  const int64_t m0 = int64_t(blockIdx.y) * kBlockM, n0 = int64_t(blockIdx.x) * kBlockN;
  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
  const int warp_m = warp / kWarpsN, warp_n = warp % kWarpsN;

  float acc[kMmaTilesM][kMmaTilesN][4];
#pragma unroll
  for (int i = 0; i < kMmaTilesM; ++i)
#pragma unroll
    for (int j = 0; j < kMmaTilesN; ++j)
#pragma unroll
      for (int r = 0; r < 4; ++r) acc[i][j][r] = 0.0f;

  const int k_tiles = int((K + kBlockK - 1) / kBlockK);
  auto load_stage = [&](int stage, int kt) {
    const int64_t k0 = int64_t(kt) * kBlockK;
    load_tile<AKMajor>(a_tile(stage), A, lda, M, K, m0, k0);
    load_tile<BKMajor>(b_tile(stage), B, ldb, N, K, n0, k0);
  };
#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < k_tiles) load_stage(s, s);
    cp_async_commit();  // empty groups keep the wait count uniform
  }

  for (int kt = 0; kt < k_tiles; ++kt) {
    cp_async_wait<kStages - 2>();  // tile kt has landed (for this thread)
    __syncthreads();               // ... for every thread; and stage (kt - 1) is free again
    const int next = kt + kStages - 1;
    if (next < k_tiles) load_stage(next % kStages, next);
    cp_async_commit();

    const T* sa = a_tile(kt % kStages);
    const T* sb = b_tile(kt % kStages);
#pragma unroll
    for (int kk = 0; kk < kBlockK; kk += 16) {
      uint32_t a_frag[kMmaTilesM][4];
      uint32_t b_frag[kMmaTilesN][2];
#pragma unroll
      for (int i = 0; i < kMmaTilesM; ++i) {
        const int mb = warp_m * kWarpTileM + i * 16;
        if constexpr (AKMajor) {
          ldmatrix_x4(a_frag[i], sa + (mb + lane % 16) * kStrideKMajor + kk + (lane / 16) * 8);
        } else {
          ldmatrix_x4_trans(a_frag[i], sa + (kk + (lane / 16) * 8 + lane % 8) * kStrideMNMajor + mb +
                                           ((lane / 8) % 2) * 8);
        }
      }
#pragma unroll
      for (int p = 0; p < kMmaTilesN / 2; ++p) {
        const int nb = warp_n * kWarpTileN + p * 16;
        uint32_t r[4];
        if constexpr (BKMajor) {
          ldmatrix_x4(r, sb + (nb + (lane / 16) * 8 + lane % 8) * kStrideKMajor + kk + ((lane / 8) % 2) * 8);
        } else {
          ldmatrix_x4_trans(r, sb + (kk + ((lane / 8) % 2) * 8 + lane % 8) * kStrideMNMajor + nb + (lane / 16) * 8);
        }
        b_frag[2 * p][0] = r[0];
        b_frag[2 * p][1] = r[1];
        b_frag[2 * p + 1][0] = r[2];
        b_frag[2 * p + 1][1] = r[3];
      }
#pragma unroll
      for (int i = 0; i < kMmaTilesM; ++i)
#pragma unroll
        for (int j = 0; j < kMmaTilesN; ++j) mma_16816<T>(acc[i][j], a_frag[i], b_frag[j][0], b_frag[j][1]);
    }
  }
  cp_async_wait<0>();

  // Accumulator layout of m16n8: (c0, c1) at row lane/4, cols 2*(lane%4) + {0, 1}; (c2, c3) 8 rows down.
  const int g = lane / 4, t = lane % 4;
#pragma unroll
  for (int i = 0; i < kMmaTilesM; ++i) {
#pragma unroll
    for (int j = 0; j < kMmaTilesN; ++j) {
      const int64_t col = n0 + warp_n * kWarpTileN + j * 8 + 2 * t;
      if (col >= N) continue;  // N is a multiple of 8, so col + 1 < N too
      const float b0 = ep.bias ? ep.bias[col] : 0.0f, b1 = ep.bias ? ep.bias[col + 1] : 0.0f;
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int64_t row = m0 + warp_m * kWarpTileM + i * 16 + g + h * 8;
        if (row >= M) continue;
        float v0 = ep.alpha * acc[i][j][2 * h] + b0, v1 = ep.alpha * acc[i][j][2 * h + 1] + b1;
        if (ep.beta != 0.0f) {  // beta * C before the activation, as cuBLASLt orders it
          v0 += ep.beta * load(C, row * ldc + col);
          v1 += ep.beta * load(C, row * ldc + col + 1);
        }
        if (ep.gelu) {
          v0 = gelu_tanh(v0);
          v1 = gelu_tanh(v1);
        }
        store_pair(C, row * ldc + col, v0, v1, 0.0f);
      }
    }
  }
}

// Fallback: one output per thread over 16 x 16 shared tiles, any stride, dtype and size.
constexpr int kSimpleTile = 16;
template <typename T, typename Out>
__global__ void gemm_simple_kernel(int64_t M, int64_t N, int64_t K, const T* A, int64_t a_rs, int64_t a_cs,
                                   int64_t stride_a, const T* B, int64_t b_rs, int64_t b_cs, int64_t stride_b, Out* C,
                                   int64_t ldc, int64_t stride_c, Epilogue ep) {
  __shared__ float sa[kSimpleTile][kSimpleTile + 1];
  __shared__ float sb[kSimpleTile][kSimpleTile + 1];
  A += blockIdx.z * stride_a;
  B += blockIdx.z * stride_b;
  C += blockIdx.z * stride_c;
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t row = int64_t(blockIdx.y) * kSimpleTile + ty, col = int64_t(blockIdx.x) * kSimpleTile + tx;
  float acc = 0.0f;
  for (int64_t k0 = 0; k0 < K; k0 += kSimpleTile) {
    const int64_t ka = k0 + tx, kb = k0 + ty;
    sa[ty][tx] = (row < M && ka < K) ? load(A, row * a_rs + ka * a_cs) : 0.0f;
    sb[ty][tx] = (kb < K && col < N) ? load(B, kb * b_rs + col * b_cs) : 0.0f;
    __syncthreads();
#pragma unroll
    for (int k = 0; k < kSimpleTile; ++k) acc += sa[ty][k] * sb[k][tx];
    __syncthreads();
  }
  if (row >= M || col >= N) return;
  float v = ep.alpha * acc + (ep.bias ? ep.bias[col] : 0.0f);
  if (ep.beta != 0.0f) v += ep.beta * load(C, row * ldc + col);
  if (ep.gelu) v = gelu_tanh(v);
  store(C, row * ldc + col, v);
}

// TF32 tensor cores for f32 inputs (GemmArgs::allow_tf32, the config's kernels.tf32): 64 x 64 block
// tiles, 4 warps as 2 x 2, each warp 32 x 32 = 2 x 4 mma.m16n8k8 tiles; K in slices of 16 through
// shared memory, each operand rounded to tf32 once on its way in (cvt.rna), f32 accumulators.
// Operands are read per element through their strides, so any shape, stride and transpose runs.
// Shared rows are padded by 8 words: a fragment read (k = t, m = g) then hits bank 8t + g, all distinct.
// __launch_bounds__(128, 1): left to its occupancy heuristic ptxas held it to 96 registers and spilt
// (tools/check-kernel-resources.sh); with one block per SM promised it takes 136, no spills.
constexpr int kTf32BlockM = 64, kTf32BlockN = 64, kTf32BlockK = 16, kTf32Threads = 128, kTf32Pad = 8;
template <typename Out>
__global__ void __launch_bounds__(kTf32Threads, 1)
    gemm_tf32_kernel(int64_t M, int64_t N, int64_t K, const float* A, int64_t a_rs, int64_t a_cs, int64_t stride_a,
                     const float* B, int64_t b_rs, int64_t b_cs, int64_t stride_b, Out* C, int64_t ldc,
                     int64_t stride_c, Epilogue ep) {
  __shared__ uint32_t sa[kTf32BlockK][kTf32BlockM + kTf32Pad];  // (k, m) as tf32 bits
  __shared__ uint32_t sb[kTf32BlockK][kTf32BlockN + kTf32Pad];  // (k, n)
  A += blockIdx.z * stride_a;
  B += blockIdx.z * stride_b;
  C += blockIdx.z * stride_c;
  const int64_t m0 = int64_t(blockIdx.y) * kTf32BlockM, n0 = int64_t(blockIdx.x) * kTf32BlockN;
  const int tid = int(threadIdx.x), warp = tid / kWarpSize, lane = tid % kWarpSize;
  const int g = lane / 4, t = lane % 4, wm = warp / 2, wn = warp % 2;
  float acc[2][4][4] = {};
  for (int64_t k0 = 0; k0 < K; k0 += kTf32BlockK) {
    for (int e = tid; e < kTf32BlockK * kTf32BlockM; e += kTf32Threads) {
      const int kk = e % kTf32BlockK, mm = e / kTf32BlockK;  // consecutive threads walk K
      const int64_t gm = m0 + mm, gk = k0 + kk;
      sa[kk][mm] = to_tf32(gm < M && gk < K ? A[gm * a_rs + gk * a_cs] : 0.0f);
    }
    for (int e = tid; e < kTf32BlockK * kTf32BlockN; e += kTf32Threads) {
      const int nn = e % kTf32BlockN, kk = e / kTf32BlockN;  // consecutive threads walk N
      const int64_t gn = n0 + nn, gk = k0 + kk;
      sb[kk][nn] = to_tf32(gk < K && gn < N ? B[gk * b_rs + gn * b_cs] : 0.0f);
    }
    __syncthreads();
#pragma unroll
    for (int ks = 0; ks < kTf32BlockK; ks += 8) {
      // Fragments of m16n8k8 tf32 (kernels/emu/fragments.h states the ISA's table): A register r
      // holds (row g + 8 (r % 2), col t + 4 (r / 2)); B register r holds (k t + 4 r, n g).
      uint32_t af[2][4], bfr[4][2];
#pragma unroll
      for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int r = 0; r < 4; ++r) af[i][r] = sa[ks + t + (r / 2) * 4][wm * 32 + i * 16 + g + (r % 2) * 8];
#pragma unroll
      for (int j = 0; j < 4; ++j)
#pragma unroll
        for (int r = 0; r < 2; ++r) bfr[j][r] = sb[ks + t + r * 4][wn * 32 + j * 8 + g];
#pragma unroll
      for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) mma_1688_tf32(acc[i][j], af[i], bfr[j][0], bfr[j][1]);
    }
    __syncthreads();
  }
  // Accumulator layout: c_r at row g + 8 (r / 2), col 2t + (r % 2) of each 16 x 8 tile.
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j)
#pragma unroll
      for (int r = 0; r < 4; ++r) {
        const int64_t row = m0 + wm * 32 + i * 16 + g + (r / 2) * 8;
        const int64_t col = n0 + wn * 32 + j * 8 + 2 * t + (r % 2);
        if (row >= M || col >= N) continue;
        float v = ep.alpha * acc[i][j][r] + (ep.bias ? ep.bias[col] : 0.0f);
        if (ep.beta != 0.0f) v += ep.beta * load(C, row * ldc + col);
        if (ep.gelu) v = gelu_tanh(v);
        store(C, row * ldc + col, v);
      }
}

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }
bool multiple_of_8(int64_t v) { return v % 8 == 0; }

void validate(const GemmArgs& a) {
  ANVIL_CHECK_OP(a.M >= 0 && a.N >= 0 && a.K >= 0 && a.batch >= 0, "[gemm] negative size: M=", a.M, " N=", a.N,
                 " K=", a.K, " batch=", a.batch);
  ANVIL_CHECK_OP(a.lda >= (a.a_transposed ? a.M : a.K) && a.ldb >= (a.b_transposed ? a.K : a.N) && a.ldc >= a.N,
                 "[gemm] leading dimension too small: lda=", a.lda, " ldb=", a.ldb, " ldc=", a.ldc, " for M=", a.M,
                 " N=", a.N, " K=", a.K, " a_transposed=", a.a_transposed, " b_transposed=", a.b_transposed);
  ANVIL_CHECK_OP(a.output_dtype == DType::F32 || a.output_dtype == a.input_dtype,
                 "[gemm] output dtype must be f32 or the input dtype ", dtype_name(a.input_dtype), ", got ",
                 dtype_name(a.output_dtype));
  ANVIL_CHECK_OP(a.epilogue == GemmEpilogue::None || a.bias != nullptr, "[gemm] bias epilogue without a bias");
  ANVIL_CHECK_OP(a.batch <= 65535, "[gemm] batch ", a.batch, " exceeds the grid limit 65535");
}

Epilogue make_epilogue(const GemmArgs& a) {
  return Epilogue{a.alpha, a.beta, a.epilogue == GemmEpilogue::None ? nullptr : a.bias,
                  a.epilogue == GemmEpilogue::BiasGelu};
}

template <typename T, typename Out>
void run_tensor_core(const GemmArgs& a, cudaStream_t s) {
  const dim3 grid(unsigned((a.N + kBlockN - 1) / kBlockN), unsigned((a.M + kBlockM - 1) / kBlockM), unsigned(a.batch));
  const auto* pa = static_cast<const T*>(a.A);
  const auto* pb = static_cast<const T*>(a.B);
  auto* pc = static_cast<Out*>(a.C);
  const Epilogue ep = make_epilogue(a);
  auto go = [&](auto kernel, const char* name) {
    // More than 48 KB of dynamic shared memory needs an explicit opt-in per kernel.
    ANVIL_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmemBytes));
    detail::launch(name, __FILE__, __LINE__, kernel, grid, dim3(kGemmThreads), kSmemBytes, s, a.M, a.N, a.K, pa,
                   a.lda, a.batch_stride_a, pb, a.ldb, a.batch_stride_b, pc, a.ldc, a.batch_stride_c, ep);
  };
  const bool a_kmajor = !a.a_transposed, b_kmajor = a.b_transposed;
  if (a_kmajor && b_kmajor) go(gemm_mma_kernel<T, true, true, Out>, "gemm_mma_kernel<A row-major, B transposed>");
  if (a_kmajor && !b_kmajor) go(gemm_mma_kernel<T, true, false, Out>, "gemm_mma_kernel<A row-major, B row-major>");
  if (!a_kmajor && b_kmajor) go(gemm_mma_kernel<T, false, true, Out>, "gemm_mma_kernel<A transposed, B transposed>");
  if (!a_kmajor && !b_kmajor) go(gemm_mma_kernel<T, false, false, Out>, "gemm_mma_kernel<A transposed, B row-major>");
}

// Element strides of op(A) (M, K) and op(B) (K, N): element (m, k) at A[m * a_row + k * a_col].
struct ElementStrides {
  int64_t a_row, a_col, b_row, b_col;
};
ElementStrides element_strides(const GemmArgs& a) {
  return {a.a_transposed ? 1 : a.lda, a.a_transposed ? a.lda : 1, a.b_transposed ? 1 : a.ldb,
          a.b_transposed ? a.ldb : 1};
}

template <typename T, typename Out>
void run_simple(const GemmArgs& a, cudaStream_t s) {
  const dim3 grid(unsigned((a.N + kSimpleTile - 1) / kSimpleTile), unsigned((a.M + kSimpleTile - 1) / kSimpleTile),
                  unsigned(a.batch));
  const ElementStrides e = element_strides(a);
  ANVIL_CHECK_OP(grid.y <= 65535, "[gemm] M=", a.M, " too large for the simple kernel");
  ANVIL_LAUNCH((gemm_simple_kernel<T, Out>), grid, dim3(kSimpleTile, kSimpleTile), 0, s, a.M, a.N, a.K,
               static_cast<const T*>(a.A), e.a_row, e.a_col, a.batch_stride_a, static_cast<const T*>(a.B), e.b_row,
               e.b_col, a.batch_stride_b, static_cast<Out*>(a.C), a.ldc, a.batch_stride_c, make_epilogue(a));
}

template <typename Out>
void run_tf32(const GemmArgs& a, cudaStream_t s) {
  const dim3 grid(unsigned((a.N + kTf32BlockN - 1) / kTf32BlockN), unsigned((a.M + kTf32BlockM - 1) / kTf32BlockM),
                  unsigned(a.batch));
  const ElementStrides e = element_strides(a);
  ANVIL_CHECK_OP(grid.y <= 65535, "[gemm] M=", a.M, " too large for the tf32 kernel");
  ANVIL_LAUNCH((gemm_tf32_kernel<Out>), grid, dim3(kTf32Threads), 0, s, a.M, a.N, a.K, static_cast<const float*>(a.A),
               e.a_row, e.a_col, a.batch_stride_a, static_cast<const float*>(a.B), e.b_row, e.b_col,
               a.batch_stride_b, static_cast<Out*>(a.C), a.ldc, a.batch_stride_c, make_epilogue(a));
}

// Calls f(T{}, Out{}) for the input storage type and the output type (f32 or T).
template <typename F>
void dispatch_gemm_types(const GemmArgs& a, F&& f) {
  dispatch_float(a.input_dtype, "gemm", [&](auto in_tag) {
    using T = decltype(in_tag);
    if (a.output_dtype == DType::F32) {
      f(in_tag, float{});
    } else {
      f(in_tag, T{});
    }
  });
}
}  // namespace

bool gemm_tensor_core_can_run(const GemmArgs& a) {
  if (a.input_dtype != DType::BF16 && a.input_dtype != DType::F16) return false;
  if (a.output_dtype != DType::F32 && a.output_dtype != a.input_dtype) return false;
  for (int64_t v : {a.M, a.N, a.K, a.lda, a.ldb, a.ldc}) {
    if (!multiple_of_8(v)) return false;
  }
  if (a.batch > 1) {
    for (int64_t v : {a.batch_stride_a, a.batch_stride_b, a.batch_stride_c}) {
      if (!multiple_of_8(v)) return false;
    }
  }
  if (a.batch > 65535) return false;
  return aligned16(a.A) && aligned16(a.B) && aligned16(a.C);
}

GemmBackend gemm(const GemmArgs& a, GemmBackend backend) {
  validate(a);
  if (backend == GemmBackend::Auto) {
    if (gemm_tensor_core_can_run(a))
      backend = GemmBackend::TensorCore;
    else if (a.input_dtype == DType::F32 && a.allow_tf32)
      backend = GemmBackend::Tf32;
    else
      backend = GemmBackend::Simple;
  }
  if (a.M == 0 || a.N == 0 || a.batch == 0) return backend;
  if (a.K == 0) backend = GemmBackend::Simple;  // C = epilogue(beta * C)
  cudaStream_t s = resolve_stream(a.stream);
  switch (backend) {
    case GemmBackend::TensorCore:
      ANVIL_CHECK_OP(gemm_tensor_core_can_run(a), "[gemm] the tensor-core kernel cannot run M=", a.M, " N=", a.N,
                     " K=", a.K, " lda=", a.lda, " ldb=", a.ldb, " ldc=", a.ldc, " dtype ", dtype_name(a.input_dtype),
                     " (needs bf16/f16, sizes and strides multiples of 8, 16-byte aligned pointers)");
      dispatch_gemm_types(a, [&](auto in_tag, auto out_tag) {
        using T = decltype(in_tag);
        using Out = decltype(out_tag);
        if constexpr (!std::is_same_v<T, float>) run_tensor_core<T, Out>(a, s);
      });
      break;
    case GemmBackend::Tf32:
      ANVIL_CHECK_OP(a.input_dtype == DType::F32, "[gemm] the tf32 kernel takes f32 inputs, got ",
                     dtype_name(a.input_dtype));
      run_tf32<float>(a, s);  // f32 inputs: the output is f32 (validate() allows f32 or the input dtype)
      break;
    case GemmBackend::Simple:
    case GemmBackend::Auto:
      dispatch_gemm_types(a, [&](auto in_tag, auto out_tag) {
        run_simple<decltype(in_tag), decltype(out_tag)>(a, s);
      });
      break;
  }
  return backend;
}

}  // namespace anvil::kernels::cuda
