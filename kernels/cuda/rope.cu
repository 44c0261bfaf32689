// CUDA rotary position embedding (see rope.h for the API).
//
// Math (rotate-half): for pair i < h = rotary_dim / 2, freq_i = theta^(-2i / rotary_dim),
//   a = pos * freq_i, (y_i, y_{i+h}) = (x_i cos a - x_{i+h} sin a, x_{i+h} cos a + x_i sin a).
//   The backward applies the transpose rotation, i.e. the same with a -> -a.
// Trick: one thread per pair, so in-place application is race-free (each thread reads both
//   elements before writing them); dims past rotary_dim are copied by the same grid when y != x.
//   Angles use accurate sincosf in f32, as the CPU reference does.
// Gradients: dx `=`.
// Speed: not yet measured (no GPU lent).
#include <cmath>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/rope.h"

namespace anvil::kernels::cuda {

namespace {
constexpr int kRopeThreads = 256;

struct RopeParams {
  int64_t T, H, D, half, per_row;  // per_row = D - half work items per (b, t, h)
  int64_t xs[3], ys[3];
  float log2_theta;
  const int64_t* positions;
  int64_t position_offset;
  float sign;  // +1 forward, -1 backward
};

template <typename T>
__global__ void rope_kernel(const T* x, T* y, int64_t items, RopeParams p) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < items; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t j = e % p.per_row;
    int64_t row = e / p.per_row;
    const int64_t h = row % p.H;
    row /= p.H;
    const int64_t t = row % p.T, b = row / p.T;
    const T* xr = x + b * p.xs[0] + t * p.xs[1] + h * p.xs[2];
    T* yr = y + b * p.ys[0] + t * p.ys[1] + h * p.ys[2];
    if (j < p.half) {
      const int64_t pos = p.positions ? p.positions[b * p.T + t] : p.position_offset + t;
      const float freq = exp2f(-float(2 * j) / float(2 * p.half) * p.log2_theta);
      float sn, cs;
      sincosf(float(pos) * freq, &sn, &cs);
      sn *= p.sign;
      const float x0 = load(xr, j), x1 = load(xr, j + p.half);
      store(yr, j, x0 * cs - x1 * sn);
      store(yr, j + p.half, x1 * cs + x0 * sn);
    } else if (xr != yr) {
      const int64_t d = j + p.half;  // a dim at or past rotary_dim
      yr[d] = xr[d];
    }
  }
}

void run(const RopeArgs& a, float sign, const char* op) {
  const int64_t rot = a.rotary_dim == 0 ? a.head_dim : a.rotary_dim;
  ANVIL_CHECK_OP(a.batch >= 0 && a.seq_len >= 0 && a.heads >= 0 && a.head_dim > 0, "[", op, "] bad sizes B=",
                 a.batch, " T=", a.seq_len, " heads=", a.heads, " head_dim=", a.head_dim);
  ANVIL_CHECK_OP(rot > 0 && rot % 2 == 0 && rot <= a.head_dim, "[", op, "] rotary_dim ", rot,
                 " must be even and <= head_dim ", a.head_dim);
  ANVIL_CHECK_OP(a.theta > 0.0f, "[", op, "] theta must be positive, got ", a.theta);
  RopeParams p{};
  p.T = a.seq_len;
  p.H = a.heads;
  p.D = a.head_dim;
  p.half = rot / 2;
  p.per_row = a.head_dim - p.half;
  for (int i = 0; i < 3; ++i) {
    p.xs[i] = a.x_strides[i];
    p.ys[i] = a.y_strides[i];
  }
  p.log2_theta = std::log2(a.theta);
  p.positions = a.positions;
  p.position_offset = a.position_offset;
  p.sign = sign;
  const int64_t items = a.batch * a.seq_len * a.heads * p.per_row;
  if (items == 0) return;
  cudaStream_t s = resolve_stream(a.stream);
  dispatch_float(a.dtype, op, [&](auto tag) {
    using T = decltype(tag);
    ANVIL_LAUNCH((rope_kernel<T>), grid_for(items, kRopeThreads), kRopeThreads, 0, s, static_cast<const T*>(a.x),
                 static_cast<T*>(a.y), items, p);
  });
}
}  // namespace

void rope_forward(const RopeArgs& args) { run(args, 1.0f, "rope"); }
void rope_backward(const RopeArgs& args) { run(args, -1.0f, "rope_backward"); }

}  // namespace anvil::kernels::cuda
