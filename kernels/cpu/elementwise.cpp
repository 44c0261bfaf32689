#include "kernels/cpu/elementwise.h"

#include <cstring>

namespace anvil::kernels::cpu {

namespace {
template <BinaryOp Op>
inline float apply(float x, float y) {
  if constexpr (Op == BinaryOp::Add) return x + y;
  if constexpr (Op == BinaryOp::Sub) return x - y;
  if constexpr (Op == BinaryOp::Mul) return x * y;
  return x / y;
}

template <BinaryOp Op>
void binary_impl(const float* a, const int64_t* as, const float* b, const int64_t* bs, float* out,
                 const int64_t* shape, int ndim) {
  int64_t n = 1;
  for (int d = 0; d < ndim; ++d) n *= shape[d];
  if (n == 0) return;
  if (ndim == 0) {
    out[0] = apply<Op>(a[0], b[0]);
    return;
  }
  const int64_t inner = shape[ndim - 1];
  const int64_t ai = as[ndim - 1], bi = bs[ndim - 1];
  const int64_t rows = n / inner;
#pragma omp parallel for if (n > 32768)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t rem = r, ao = 0, bo = 0;
    for (int d = ndim - 2; d >= 0; --d) {
      int64_t idx = rem % shape[d];
      rem /= shape[d];
      ao += idx * as[d];
      bo += idx * bs[d];
    }
    const float* pa = a + ao;
    const float* pb = b + bo;
    float* po = out + r * inner;
    if (ai == 1 && bi == 1) {
      for (int64_t j = 0; j < inner; ++j) po[j] = apply<Op>(pa[j], pb[j]);
    } else if (ai == 1 && bi == 0) {
      const float y = pb[0];
      for (int64_t j = 0; j < inner; ++j) po[j] = apply<Op>(pa[j], y);
    } else {
      for (int64_t j = 0; j < inner; ++j) po[j] = apply<Op>(pa[j * ai], pb[j * bi]);
    }
  }
}
}  // namespace

void binary_f32(BinaryOp op, const float* a, const int64_t* as, const float* b, const int64_t* bs, float* out,
                const int64_t* shape, int ndim) {
  switch (op) {
    case BinaryOp::Add: binary_impl<BinaryOp::Add>(a, as, b, bs, out, shape, ndim); break;
    case BinaryOp::Sub: binary_impl<BinaryOp::Sub>(a, as, b, bs, out, shape, ndim); break;
    case BinaryOp::Mul: binary_impl<BinaryOp::Mul>(a, as, b, bs, out, shape, ndim); break;
    case BinaryOp::Div: binary_impl<BinaryOp::Div>(a, as, b, bs, out, shape, ndim); break;
  }
}

void add_scalar_f32(const float* a, float s, float* out, int64_t n) {
#pragma omp parallel for if (n > 65536)
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] + s;
}

void mul_scalar_f32(const float* a, float s, float* out, int64_t n) {
#pragma omp parallel for if (n > 65536)
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] * s;
}

void axpy_f32(float* dst, const float* src, float alpha, int64_t n) {
#pragma omp parallel for if (n > 65536)
  for (int64_t i = 0; i < n; ++i) dst[i] += alpha * src[i];
}

void scale_f32(float* dst, float s, int64_t n) {
#pragma omp parallel for if (n > 65536)
  for (int64_t i = 0; i < n; ++i) dst[i] *= s;
}

}  // namespace anvil::kernels::cpu
