// CUDA attention (see attention.h for the API): the flash kernels, and at the end of the file the
// simple f32 path for what they do not cover.
//
// Math, per (batch b, head h) with kv head h / (H / Hkv), scale s:
//   forward  P = softmax(s Q K^T + causal mask), O = P V, lse_i = log sum_j exp(s q_i.k_j)
//   backward delta_i = dO_i . O_i, P_ij = exp(s q_i.k_j - lse_i), dP_ij = dO_i . v_j,
//            dS_ij = P_ij (dP_ij - delta_i), dV_j = sum_i P_ij dO_i, dK_j = s sum_i dS_ij q_i,
//            dQ_i = s sum_j dS_ij k_j.
// Trick: FlashAttention tiling with 32 query rows x 32 keys per step, one warp per 8 query rows
//   (or 8 keys in dK/dV), one lane per key (or query) of the 32-wide tile, so row max/sum are
//   warp shuffles and the online softmax keeps (max, sum, 8 x D/32 accumulators) in registers.
//   Scores use exp2 with s*log2(e) folded into Q. Shared rows read by "one row per lane" have an
//   odd number of 32-bit words, so those column reads are bank-conflict free.
//   The backward is deterministic and atomics-free: dK/dV are computed per key block (looping over
//   the query heads of its group and every later query tile), dQ by a second kernel per query
//   block; both recompute P from the saved lse. Causal blocks are launched longest-first.
//   These are fp32-FMA kernels (no tensor cores yet): correct and memory-light, not fast.
// Gradients: dq, dk, dv are written with `=`.
// Speed: not yet measured (no GPU lent).
#include <cmath>

#include "kernels/cuda/attention.h"
#include "kernels/cuda/common.cuh"

namespace anvil::kernels::cuda {

namespace {
constexpr int kTile = 32;  // query rows per block and keys per step
constexpr int kAttnWarps = 4;
constexpr int kAttnThreads = kAttnWarps * kWarpSize;
constexpr int kRowsPerWarp = kTile / kAttnWarps;  // 8
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;
static_assert(kTile == kWarpSize, "one lane per key/query of a tile");

struct View {
  const uint16_t* data;
  int64_t sb, st, sh;
};
struct MutView {
  uint16_t* data;
  int64_t sb, st, sh;
};

struct AttnParams {
  int64_t T, H, Hkv;
  float scale;
  bool causal;
  View q, k, v, dout;
  MutView out, dq, dk, dv;
  float* lse;
  float* delta;
};

template <typename T>
__device__ __forceinline__ float2 unpack2(uint32_t w) {
  return make_float2(to_f32(T{uint16_t(w & 0xffffu)}), to_f32(T{uint16_t(w >> 16)}));
}
template <typename T>
__device__ __forceinline__ uint32_t pack2(float a, float b) {
  return uint32_t(from_f32<T>(a).bits) | (uint32_t(from_f32<T>(b).bits) << 16);
}
__device__ __forceinline__ const uint32_t* row_words(const View& v, int64_t b, int64_t t, int64_t h) {
  return reinterpret_cast<const uint32_t*>(v.data + b * v.sb + t * v.st + h * v.sh);
}
__device__ __forceinline__ uint32_t* row_words(const MutView& v, int64_t b, int64_t t, int64_t h) {
  return reinterpret_cast<uint32_t*>(v.data + b * v.sb + t * v.st + h * v.sh);
}

// Copies rows t0 .. t0+31 of head h (zeros past T) into a shared tile of 32-bit words.
template <int Words, int Stride>
__device__ __forceinline__ void load_rows(uint32_t (*tile)[Stride], const View& v, int64_t b, int64_t h, int64_t t0,
                                          int64_t T) {
  for (int w = threadIdx.x; w < kTile * Words; w += kAttnThreads) {
    const int r = w / Words, c = w % Words;
    const int64_t t = t0 + r;
    tile[r][c] = t < T ? row_words(v, b, t, h)[c] : 0u;
  }
}

// Forward: block = 32 query rows of one (b, h); warp w owns rows 8w..8w+7; lane j = key j of a tile.
template <typename T, int D>
__global__ void __launch_bounds__(kAttnThreads) attention_forward_kernel(AttnParams p) {
  constexpr int kWords = D / 2, kPad = kWords + 1, kWordsPerLane = kWords / kWarpSize;
  // Pre-scaled by scale * log2(e). Read as float2 (8-byte loads) below: a __shared__ array is only
  // guaranteed its element's alignment (4), so the alignment the loads need is asked for.
  __shared__ __align__(16) float sq[kTile][D];
  __shared__ uint32_t sk[kTile][kPad];
  __shared__ uint32_t sv[kTile][kWords];
  const int64_t q_block = gridDim.x - 1 - blockIdx.x;  // longest causal rows first
  const int64_t h = blockIdx.y, b = blockIdx.z, kvh = h / (p.H / p.Hkv);
  const int64_t q0 = q_block * kTile;
  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
  const float qscale = p.scale * kLog2e;

  for (int w = threadIdx.x; w < kTile * kWords; w += kAttnThreads) {
    const int r = w / kWords, c = w % kWords;
    const float2 x = q0 + r < p.T ? unpack2<T>(row_words(p.q, b, q0 + r, h)[c]) : make_float2(0.0f, 0.0f);
    sq[r][2 * c] = x.x * qscale;
    sq[r][2 * c + 1] = x.y * qscale;
  }
  float m[kRowsPerWarp], l[kRowsPerWarp], acc[kRowsPerWarp][2 * kWordsPerLane];
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    m[r] = -INFINITY;
    l[r] = 0.0f;
#pragma unroll
    for (int e = 0; e < 2 * kWordsPerLane; ++e) acc[r][e] = 0.0f;
  }

  const int64_t key_end = p.causal ? min(p.T, q0 + kTile) : p.T;
  for (int64_t k0 = 0; k0 < key_end; k0 += kTile) {
    __syncthreads();  // the previous tile is consumed (and sq is complete on the first pass)
    load_rows<kWords, kPad>(sk, p.k, b, kvh, k0, p.T);
    load_rows<kWords, kWords>(sv, p.v, b, kvh, k0, p.T);
    __syncthreads();

    float s[kRowsPerWarp];
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) s[r] = 0.0f;
#pragma unroll 4
    for (int c = 0; c < kWords; ++c) {
      const float2 kv = unpack2<T>(sk[lane][c]);
#pragma unroll
      for (int r = 0; r < kRowsPerWarp; ++r) {
        const float2 qv = *reinterpret_cast<const float2*>(&sq[warp * kRowsPerWarp + r][2 * c]);
        s[r] += qv.x * kv.x + qv.y * kv.y;
      }
    }
    const int64_t key = k0 + lane;
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) {
      const int64_t row = q0 + warp * kRowsPerWarp + r;
      const bool valid = key < p.T && (!p.causal || key <= row);
      const float sv_ = valid ? s[r] : -INFINITY;
      const float m_new = fmaxf(m[r], warp_max(sv_));
      const bool empty = m_new == -INFINITY;  // no valid key yet for this row
      const float pr = empty ? 0.0f : exp2f(sv_ - m_new);
      const float corr = empty ? 1.0f : exp2f(m[r] - m_new);
      l[r] = l[r] * corr + warp_sum(pr);
      m[r] = m_new;
#pragma unroll
      for (int e = 0; e < 2 * kWordsPerLane; ++e) acc[r][e] *= corr;
      s[r] = pr;
    }
#pragma unroll 4
    for (int j = 0; j < kTile; ++j) {
#pragma unroll
      for (int w = 0; w < kWordsPerLane; ++w) {
        const float2 vv = unpack2<T>(sv[j][lane + kWarpSize * w]);
#pragma unroll
        for (int r = 0; r < kRowsPerWarp; ++r) {
          const float pj = __shfl_sync(0xffffffffu, s[r], j);
          acc[r][2 * w] += pj * vv.x;
          acc[r][2 * w + 1] += pj * vv.y;
        }
      }
    }
  }

#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    const int64_t row = q0 + warp * kRowsPerWarp + r;
    if (row >= p.T) continue;
    const float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;
    uint32_t* out = row_words(p.out, b, row, h);
#pragma unroll
    for (int w = 0; w < kWordsPerLane; ++w) {
      out[lane + kWarpSize * w] = pack2<T>(acc[r][2 * w] * inv, acc[r][2 * w + 1] * inv);
    }
    if (lane == 0) p.lse[(b * p.H + h) * p.T + row] = l[r] > 0.0f ? (m[r] + log2f(l[r])) * kLn2 : -INFINITY;
  }
}

// delta[b, h, t] = dO . O over head_dim; one warp per row.
template <typename T>
__global__ void attention_delta_kernel(AttnParams p, int64_t head_dim) {
  const int lane = threadIdx.x % kWarpSize;
  const int64_t warps_total = int64_t(gridDim.x) * (blockDim.x / kWarpSize);
  const int64_t b = blockIdx.y;  // gridDim.y = batch
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x / kWarpSize) + threadIdx.x / kWarpSize; idx < p.H * p.T;
       idx += warps_total) {
    const int64_t h = idx / p.T, t = idx % p.T;
    const uint32_t* dout = row_words(p.dout, b, t, h);
    const uint32_t* out = reinterpret_cast<const uint32_t*>(p.out.data + b * p.out.sb + t * p.out.st + h * p.out.sh);
    float sum = 0.0f;
    for (int64_t c = lane; c < head_dim / 2; c += kWarpSize) {
      const float2 a = unpack2<T>(dout[c]), o = unpack2<T>(out[c]);
      sum += a.x * o.x + a.y * o.y;
    }
    sum = warp_sum(sum);
    if (lane == 0) p.delta[(b * p.H + h) * p.T + t] = sum;
  }
}

// dK, dV: block = 32 keys of one (b, kv head); warp w owns keys 8w..8w+7; lane i = query i of a tile.
template <typename T, int D>
__global__ void __launch_bounds__(kAttnThreads) attention_backward_dkdv_kernel(AttnParams p) {
  constexpr int kWords = D / 2, kPad = kWords + 1, kWordsPerLane = kWords / kWarpSize;
  __shared__ uint32_t sq[kTile][kPad];
  __shared__ uint32_t sdo[kTile][kPad];
  __shared__ uint32_t sk[kTile][kWords];
  __shared__ uint32_t sv[kTile][kWords];
  __shared__ float slse[kTile], sdelta[kTile];
  const int64_t k_block = gridDim.x - 1 - blockIdx.x;  // early keys see the most queries: first
  const int64_t kvh = blockIdx.y, b = blockIdx.z, group = p.H / p.Hkv;
  const int64_t k0 = k_block * kTile;
  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;

  load_rows<kWords, kWords>(sk, p.k, b, kvh, k0, p.T);
  load_rows<kWords, kWords>(sv, p.v, b, kvh, k0, p.T);
  float dk[kRowsPerWarp][2 * kWordsPerLane], dv[kRowsPerWarp][2 * kWordsPerLane];
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r)
#pragma unroll
    for (int e = 0; e < 2 * kWordsPerLane; ++e) dk[r][e] = dv[r][e] = 0.0f;

  for (int64_t g = 0; g < group; ++g) {
    const int64_t h = kvh * group + g;
    for (int64_t q0 = p.causal ? k0 : 0; q0 < p.T; q0 += kTile) {
      __syncthreads();
      load_rows<kWords, kPad>(sq, p.q, b, h, q0, p.T);
      load_rows<kWords, kPad>(sdo, p.dout, b, h, q0, p.T);
      if (threadIdx.x < kTile) {
        const int64_t t = q0 + threadIdx.x;
        slse[threadIdx.x] = t < p.T ? p.lse[(b * p.H + h) * p.T + t] : INFINITY;  // exp(s - inf) = 0
        sdelta[threadIdx.x] = t < p.T ? p.delta[(b * p.H + h) * p.T + t] : 0.0f;
      }
      __syncthreads();

      float s[kRowsPerWarp], dp[kRowsPerWarp];
#pragma unroll
      for (int r = 0; r < kRowsPerWarp; ++r) s[r] = dp[r] = 0.0f;
#pragma unroll 2
      for (int c = 0; c < kWords; ++c) {
        const float2 qv = unpack2<T>(sq[lane][c]), ov = unpack2<T>(sdo[lane][c]);
#pragma unroll
        for (int r = 0; r < kRowsPerWarp; ++r) {
          const float2 kv = unpack2<T>(sk[warp * kRowsPerWarp + r][c]);
          const float2 vv = unpack2<T>(sv[warp * kRowsPerWarp + r][c]);
          s[r] += qv.x * kv.x + qv.y * kv.y;
          dp[r] += ov.x * vv.x + ov.y * vv.y;
        }
      }
      const int64_t row = q0 + lane;
      const float lse_i = slse[lane], delta_i = sdelta[lane];
#pragma unroll
      for (int r = 0; r < kRowsPerWarp; ++r) {
        const int64_t key = k0 + warp * kRowsPerWarp + r;
        const bool valid = row < p.T && key < p.T && (!p.causal || key <= row);
        const float pr = valid ? expf(s[r] * p.scale - lse_i) : 0.0f;
        s[r] = pr;
        dp[r] = pr * (dp[r] - delta_i) * p.scale;  // dS already times the scale, for dK
      }
#pragma unroll 2
      for (int i = 0; i < kTile; ++i) {
#pragma unroll
        for (int w = 0; w < kWordsPerLane; ++w) {
          const float2 ov = unpack2<T>(sdo[i][lane + kWarpSize * w]);
          const float2 qv = unpack2<T>(sq[i][lane + kWarpSize * w]);
#pragma unroll
          for (int r = 0; r < kRowsPerWarp; ++r) {
            const float pi = __shfl_sync(0xffffffffu, s[r], i);
            const float di = __shfl_sync(0xffffffffu, dp[r], i);
            dv[r][2 * w] += pi * ov.x;
            dv[r][2 * w + 1] += pi * ov.y;
            dk[r][2 * w] += di * qv.x;
            dk[r][2 * w + 1] += di * qv.y;
          }
        }
      }
    }
  }

#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    const int64_t key = k0 + warp * kRowsPerWarp + r;
    if (key >= p.T) continue;
    uint32_t* dk_row = row_words(p.dk, b, key, kvh);
    uint32_t* dv_row = row_words(p.dv, b, key, kvh);
#pragma unroll
    for (int w = 0; w < kWordsPerLane; ++w) {
      dk_row[lane + kWarpSize * w] = pack2<T>(dk[r][2 * w], dk[r][2 * w + 1]);
      dv_row[lane + kWarpSize * w] = pack2<T>(dv[r][2 * w], dv[r][2 * w + 1]);
    }
  }
}

// dQ: block = 32 query rows of one (b, h); warp w owns rows 8w..8w+7; lane j = key j of a tile.
template <typename T, int D>
__global__ void __launch_bounds__(kAttnThreads) attention_backward_dq_kernel(AttnParams p) {
  constexpr int kWords = D / 2, kPad = kWords + 1, kWordsPerLane = kWords / kWarpSize;
  __shared__ uint32_t sq[kTile][kWords];
  __shared__ uint32_t sdo[kTile][kWords];
  __shared__ uint32_t sk[kTile][kPad];
  __shared__ uint32_t sv[kTile][kPad];
  const int64_t q_block = gridDim.x - 1 - blockIdx.x;
  const int64_t h = blockIdx.y, b = blockIdx.z, kvh = h / (p.H / p.Hkv);
  const int64_t q0 = q_block * kTile;
  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;

  load_rows<kWords, kWords>(sq, p.q, b, h, q0, p.T);
  load_rows<kWords, kWords>(sdo, p.dout, b, h, q0, p.T);
  float lse[kRowsPerWarp], delta[kRowsPerWarp], dq[kRowsPerWarp][2 * kWordsPerLane];
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    const int64_t row = q0 + warp * kRowsPerWarp + r;
    lse[r] = row < p.T ? p.lse[(b * p.H + h) * p.T + row] : INFINITY;
    delta[r] = row < p.T ? p.delta[(b * p.H + h) * p.T + row] : 0.0f;
#pragma unroll
    for (int e = 0; e < 2 * kWordsPerLane; ++e) dq[r][e] = 0.0f;
  }

  const int64_t key_end = p.causal ? min(p.T, q0 + kTile) : p.T;
  for (int64_t k0 = 0; k0 < key_end; k0 += kTile) {
    __syncthreads();
    load_rows<kWords, kPad>(sk, p.k, b, kvh, k0, p.T);
    load_rows<kWords, kPad>(sv, p.v, b, kvh, k0, p.T);
    __syncthreads();

    float s[kRowsPerWarp], dp[kRowsPerWarp];
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) s[r] = dp[r] = 0.0f;
#pragma unroll 2
    for (int c = 0; c < kWords; ++c) {
      const float2 kv = unpack2<T>(sk[lane][c]), vv = unpack2<T>(sv[lane][c]);
#pragma unroll
      for (int r = 0; r < kRowsPerWarp; ++r) {
        const float2 qv = unpack2<T>(sq[warp * kRowsPerWarp + r][c]);
        const float2 ov = unpack2<T>(sdo[warp * kRowsPerWarp + r][c]);
        s[r] += qv.x * kv.x + qv.y * kv.y;
        dp[r] += ov.x * vv.x + ov.y * vv.y;
      }
    }
    const int64_t key = k0 + lane;
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) {
      const int64_t row = q0 + warp * kRowsPerWarp + r;
      const bool valid = row < p.T && key < p.T && (!p.causal || key <= row);
      const float pr = valid ? expf(s[r] * p.scale - lse[r]) : 0.0f;
      s[r] = pr * (dp[r] - delta[r]) * p.scale;
    }
#pragma unroll 2
    for (int j = 0; j < kTile; ++j) {
#pragma unroll
      for (int w = 0; w < kWordsPerLane; ++w) {
        const float2 kv = unpack2<T>(sk[j][lane + kWarpSize * w]);
#pragma unroll
        for (int r = 0; r < kRowsPerWarp; ++r) {
          const float dj = __shfl_sync(0xffffffffu, s[r], j);
          dq[r][2 * w] += dj * kv.x;
          dq[r][2 * w + 1] += dj * kv.y;
        }
      }
    }
  }

#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    const int64_t row = q0 + warp * kRowsPerWarp + r;
    if (row >= p.T) continue;
    uint32_t* dq_row = row_words(p.dq, b, row, h);
#pragma unroll
    for (int w = 0; w < kWordsPerLane; ++w) dq_row[lane + kWarpSize * w] = pack2<T>(dq[r][2 * w], dq[r][2 * w + 1]);
  }
}

bool aligned4(const void* ptr) { return (reinterpret_cast<uintptr_t>(ptr) & 3u) == 0; }

View view_of(const AttentionInput& in, const char* name) {
  ANVIL_CHECK_OP(in.data != nullptr, "[attention] missing ", name);
  ANVIL_CHECK_OP(aligned4(in.data) && in.batch_stride % 2 == 0 && in.seq_stride % 2 == 0 && in.head_stride % 2 == 0,
                 "[attention] ", name, " must be 4-byte aligned with even strides, got strides (", in.batch_stride,
                 ", ", in.seq_stride, ", ", in.head_stride, ")");
  return View{static_cast<const uint16_t*>(in.data), in.batch_stride, in.seq_stride, in.head_stride};
}
MutView view_of(const AttentionOutput& out, const char* name) {
  View v = view_of(AttentionInput{out.data, out.batch_stride, out.seq_stride, out.head_stride}, name);
  return MutView{static_cast<uint16_t*>(out.data), v.sb, v.st, v.sh};
}

AttnParams make_params(const AttentionArgs& a) {
  ANVIL_CHECK_OP(a.head_dim == 64 || a.head_dim == 128, "[attention] CUDA kernel supports head_dim 64 or 128, got ",
                 a.head_dim);
  ANVIL_CHECK_OP(a.num_kv_heads > 0 && a.num_heads % a.num_kv_heads == 0, "[attention] num_heads ", a.num_heads,
                 " is not a multiple of num_kv_heads ", a.num_kv_heads);
  ANVIL_CHECK_OP(a.batch >= 0 && a.seq_len >= 0 && a.batch <= 65535 && a.num_heads <= 65535,
                 "[attention] bad sizes batch=", a.batch, " seq_len=", a.seq_len, " heads=", a.num_heads);
  ANVIL_CHECK_OP(a.lse != nullptr, "[attention] missing lse buffer");
  AttnParams p{};
  p.T = a.seq_len;
  p.H = a.num_heads;
  p.Hkv = a.num_kv_heads;
  p.scale = a.scale > 0.0f ? a.scale : 1.0f / std::sqrt(float(a.head_dim));
  p.causal = a.causal;
  p.q = view_of(a.q, "q");
  p.k = view_of(a.k, "k");
  p.v = view_of(a.v, "v");
  p.out = view_of(a.out, "out");
  p.lse = a.lse;
  return p;
}

template <typename F>
void dispatch_head_dim(int64_t d, F&& f) {
  if (d == 64) {
    f(std::integral_constant<int, 64>{});
  } else {
    f(std::integral_constant<int, 128>{});
  }
}
}  // namespace

void attention_forward(const AttentionArgs& a) {
  AttnParams p = make_params(a);
  if (a.batch == 0 || a.seq_len == 0) return;
  cudaStream_t s = resolve_stream(a.stream);
  const dim3 grid(unsigned((a.seq_len + kTile - 1) / kTile), unsigned(a.num_heads), unsigned(a.batch));
  dispatch_half(a.dtype, "attention", [&](auto tag) {
    using T = decltype(tag);
    dispatch_head_dim(a.head_dim, [&](auto dim) {
      ANVIL_LAUNCH((attention_forward_kernel<T, decltype(dim)::value>), grid, kAttnThreads, 0, s, p);
    });
  });
}

void attention_backward(const AttentionArgs& a) {
  AttnParams p = make_params(a);
  p.dout = view_of(a.dout, "dout");
  p.dq = view_of(a.dq, "dq");
  p.dk = view_of(a.dk, "dk");
  p.dv = view_of(a.dv, "dv");
  ANVIL_CHECK_OP(a.delta != nullptr, "[attention_backward] missing delta scratch (B, H, T) f32");
  p.delta = a.delta;
  if (a.batch == 0 || a.seq_len == 0) return;
  cudaStream_t s = resolve_stream(a.stream);
  const unsigned row_blocks = unsigned((a.seq_len + kTile - 1) / kTile);
  dispatch_half(a.dtype, "attention_backward", [&](auto tag) {
    using T = decltype(tag);
    constexpr int kDeltaThreads = 256;
    const dim3 delta_grid(grid_for(a.num_heads * a.seq_len, kDeltaThreads / kWarpSize, 4096), unsigned(a.batch));
    ANVIL_LAUNCH((attention_delta_kernel<T>), delta_grid, kDeltaThreads, 0, s, p, a.head_dim);
    dispatch_head_dim(a.head_dim, [&](auto dim) {
      constexpr int D = decltype(dim)::value;
      ANVIL_LAUNCH((attention_backward_dkdv_kernel<T, D>), dim3(row_blocks, unsigned(a.num_kv_heads), unsigned(a.batch)),
                   kAttnThreads, 0, s, p);
      ANVIL_LAUNCH((attention_backward_dq_kernel<T, D>), dim3(row_blocks, unsigned(a.num_heads), unsigned(a.batch)),
                   kAttnThreads, 0, s, p);
    });
  });
}

// ---- The simple path --------------------------------------------------------------------------
// The simple f32 attention path (attention_simple_*_f32 in attention.h): what runs on CUDA when the flash kernels
// cannot (f32 tensors, head dims other than 64/128, a KV cache longer than the queries).
//
// Math, per query row t of head h (kv head h / group), visible keys s < limit(t) with
// limit(t) = min(S, t + S - T + 1) when causal, S otherwise:
//   forward  online softmax: m, l, acc rescaled per key; out = acc / l, lse = m + log l.
//   backward p_ts = exp(scale q_t.k_s - lse_t), delta_t = dout_t.out_t, ds_ts = p_ts (dout_t.v_s - delta_t),
//            dq_t = scale sum_s ds_ts k_s;  dv_s = sum_t p_ts dout_t;  dk_s = scale sum_t ds_ts q_t.
// One thread per query row (forward, dq) or per key row (dk, dv per query head), each summing
// in a fixed order: deterministic, no atomics. Row vectors live in per-thread arrays of
// kSimpleAttentionMaxHeadDim floats (local memory). Speed: not measured (no GPU lent); this path
// is for correctness and small models, the flash kernels are the fast path.

namespace {
namespace simple {
constexpr int kThreads = 128;
constexpr int kMaxD = int(kSimpleAttentionMaxHeadDim);

struct Dims {
  int64_t B, Hq, Hkv, T, S, D;
  bool causal;
  float scale;
};

__device__ __forceinline__ int64_t visible_keys(const Dims& d, int64_t t) {
  if (!d.causal) return d.S;
  const int64_t lim = t + d.S - d.T + 1;  // <= 0 when S < T leaves a row with no key: zero output
  return lim < d.S ? (lim > 0 ? lim : 0) : d.S;
}

__device__ __forceinline__ float dot(const float* a, const float* b, int64_t D) {
  float acc = 0.0f;
  for (int64_t i = 0; i < D; ++i) acc += a[i] * b[i];
  return acc;
}

__global__ void forward_kernel(Dims d, const float* q, const float* k, const float* v, float* out, float* lse) {
  const int64_t rows = d.B * d.Hq * d.T;
  for (int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; r < rows; r += int64_t(gridDim.x) * blockDim.x) {
    const int64_t t = r % d.T, bh = r / d.T, h = bh % d.Hq, b = bh / d.Hq;
    const int64_t hk = h / (d.Hq / d.Hkv);
    const float* qr = q + r * d.D;
    const float* kb = k + (b * d.Hkv + hk) * d.S * d.D;
    const float* vb = v + (b * d.Hkv + hk) * d.S * d.D;
    float acc[kMaxD];
    for (int64_t i = 0; i < d.D; ++i) acc[i] = 0.0f;
    float m = -INFINITY, l = 0.0f;
    const int64_t limit = visible_keys(d, t);
    for (int64_t s = 0; s < limit; ++s) {
      const float score = dot(qr, kb + s * d.D, d.D) * d.scale;
      const float m_new = fmaxf(m, score);
      const float corr = expf(m - m_new);
      const float p = expf(score - m_new);
      l = l * corr + p;
      const float* vr = vb + s * d.D;
      for (int64_t i = 0; i < d.D; ++i) acc[i] = acc[i] * corr + p * vr[i];
      m = m_new;
    }
    float* o = out + r * d.D;
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;
    for (int64_t i = 0; i < d.D; ++i) o[i] = acc[i] * inv;
    lse[r] = l > 0.0f ? m + logf(l) : -INFINITY;
  }
}

// delta_t = dout_t . out_t, then dq_t.
__global__ void dq_kernel(Dims d, const float* q, const float* k, const float* v, const float* out,
                          const float* dout, const float* lse, float* delta, float* dq) {
  const int64_t rows = d.B * d.Hq * d.T;
  for (int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; r < rows; r += int64_t(gridDim.x) * blockDim.x) {
    const int64_t t = r % d.T, bh = r / d.T, h = bh % d.Hq, b = bh / d.Hq;
    const int64_t hk = h / (d.Hq / d.Hkv);
    const float* qr = q + r * d.D;
    const float* gr = dout + r * d.D;
    const float* kb = k + (b * d.Hkv + hk) * d.S * d.D;
    const float* vb = v + (b * d.Hkv + hk) * d.S * d.D;
    const float dl = dot(gr, out + r * d.D, d.D);
    delta[r] = dl;
    float acc[kMaxD];
    for (int64_t i = 0; i < d.D; ++i) acc[i] = 0.0f;
    const float row_lse = lse[r];
    const int64_t limit = visible_keys(d, t);
    for (int64_t s = 0; s < limit; ++s) {
      const float* kr = kb + s * d.D;
      const float p = expf(dot(qr, kr, d.D) * d.scale - row_lse);
      const float ds = p * (dot(gr, vb + s * d.D, d.D) - dl);
      for (int64_t i = 0; i < d.D; ++i) acc[i] += ds * kr[i];
    }
    float* o = dq + r * d.D;
    for (int64_t i = 0; i < d.D; ++i) o[i] = acc[i] * d.scale;
  }
}

// dk, dv of key row s for query head h: written into (B, Hq, S, D) per-query-head buffers.
__global__ void dkdv_kernel(Dims d, const float* q, const float* k, const float* v, const float* dout,
                            const float* lse, const float* delta, float* dk, float* dv) {
  const int64_t rows = d.B * d.Hq * d.S;
  for (int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; r < rows; r += int64_t(gridDim.x) * blockDim.x) {
    const int64_t s = r % d.S, bh = r / d.S, h = bh % d.Hq, b = bh / d.Hq;
    const int64_t hk = h / (d.Hq / d.Hkv);
    const float* kr = k + ((b * d.Hkv + hk) * d.S + s) * d.D;
    const float* vr = v + ((b * d.Hkv + hk) * d.S + s) * d.D;
    float acc_k[kMaxD], acc_v[kMaxD];
    for (int64_t i = 0; i < d.D; ++i) acc_k[i] = acc_v[i] = 0.0f;
    // Query t sees key s iff s < visible_keys(t), i.e. t >= s - (S - T) when causal.
    int64_t t0 = 0;
    if (d.causal) {
      t0 = s - (d.S - d.T);
      if (t0 < 0) t0 = 0;
    }
    for (int64_t t = t0; t < d.T; ++t) {
      const int64_t qrow = bh * d.T + t;
      const float* qr = q + qrow * d.D;
      const float* gr = dout + qrow * d.D;
      const float p = expf(dot(qr, kr, d.D) * d.scale - lse[qrow]);
      const float ds = p * (dot(gr, vr, d.D) - delta[qrow]);
      for (int64_t i = 0; i < d.D; ++i) {
        acc_v[i] += p * gr[i];
        acc_k[i] += ds * qr[i];
      }
    }
    float* ok = dk + r * d.D;
    float* ov = dv + r * d.D;
    for (int64_t i = 0; i < d.D; ++i) {
      ok[i] = acc_k[i] * d.scale;
      ov[i] = acc_v[i];
    }
  }
}

Dims make_dims(const SimpleAttentionArgs& a) {
  ANVIL_CHECK_OP(a.batch >= 0 && a.num_heads >= 0 && a.q_len >= 0 && a.kv_len >= 0,
                 "[attention] negative sizes in the simple CUDA path");
  ANVIL_CHECK_OP(a.num_kv_heads > 0 && a.num_heads % a.num_kv_heads == 0, "[attention] Hq = ", a.num_heads,
                 " is not a multiple of Hkv = ", a.num_kv_heads);
  ANVIL_CHECK_OP(a.head_dim > 0 && a.head_dim <= kSimpleAttentionMaxHeadDim, "[attention] head dim ", a.head_dim,
                 " outside 1..", kSimpleAttentionMaxHeadDim, " for the simple CUDA path");
  ANVIL_CHECK_OP(a.scale > 0.0f, "[attention] scale must be resolved (> 0) before the simple CUDA path");
  return Dims{a.batch, a.num_heads, a.num_kv_heads, a.q_len, a.kv_len, a.head_dim, a.causal, a.scale};
}
}  // namespace simple
}  // namespace

void attention_simple_forward_f32(const SimpleAttentionArgs& a) {
  using namespace simple;
  const Dims d = make_dims(a);
  const int64_t rows = d.B * d.Hq * d.T;
  if (rows == 0) return;
  ANVIL_LAUNCH(forward_kernel, grid_for(rows, kThreads), kThreads, 0, resolve_stream(a.stream), d, a.q, a.k, a.v,
               a.out, a.lse);
}

void attention_simple_backward_f32(const SimpleAttentionArgs& a) {
  using namespace simple;
  const Dims d = make_dims(a);
  cudaStream_t s = resolve_stream(a.stream);
  const int64_t qrows = d.B * d.Hq * d.T, krows = d.B * d.Hq * d.S;
  if (qrows > 0)
    ANVIL_LAUNCH(dq_kernel, grid_for(qrows, kThreads), kThreads, 0, s, d, a.q, a.k, a.v, a.out, a.dout, a.lse,
                 a.delta, a.dq);
  if (krows > 0)
    ANVIL_LAUNCH(dkdv_kernel, grid_for(krows, kThreads), kThreads, 0, s, d, a.q, a.k, a.v, a.dout, a.lse, a.delta,
                 a.dk_per_qhead, a.dv_per_qhead);
}

}  // namespace anvil::kernels::cuda
