#include "kernels/cpu/convert.h"

#include <cstring>
#include <vector>

namespace anvil::kernels::cpu {

float load_as_f32(const void* p, DType t, int64_t i) {
  switch (t) {
    case DType::F32: return static_cast<const float*>(p)[i];
    case DType::F16: return f16_to_f32(static_cast<const uint16_t*>(p)[i]);
    case DType::BF16: return bf16_to_f32(static_cast<const uint16_t*>(p)[i]);
    case DType::I32: return float(static_cast<const int32_t*>(p)[i]);
    case DType::I64: return float(static_cast<const int64_t*>(p)[i]);
    case DType::I8: return float(static_cast<const int8_t*>(p)[i]);
    case DType::U8: return float(static_cast<const uint8_t*>(p)[i]);
  }
  return 0.f;
}

void store_from_f32(void* p, DType t, int64_t i, float v) {
  switch (t) {
    case DType::F32: static_cast<float*>(p)[i] = v; break;
    case DType::F16: static_cast<uint16_t*>(p)[i] = f32_to_f16(v); break;
    case DType::BF16: static_cast<uint16_t*>(p)[i] = f32_to_bf16(v); break;
    case DType::I32: static_cast<int32_t*>(p)[i] = int32_t(v); break;
    case DType::I64: static_cast<int64_t*>(p)[i] = int64_t(v); break;
    case DType::I8: static_cast<int8_t*>(p)[i] = int8_t(v); break;
    case DType::U8: static_cast<uint8_t*>(p)[i] = uint8_t(v); break;
  }
}

namespace {
bool is_integer(DType t) { return !is_floating(t); }

int64_t load_as_i64(const void* p, DType t, int64_t i) {
  switch (t) {
    case DType::I32: return static_cast<const int32_t*>(p)[i];
    case DType::I64: return static_cast<const int64_t*>(p)[i];
    case DType::I8: return static_cast<const int8_t*>(p)[i];
    case DType::U8: return static_cast<const uint8_t*>(p)[i];
    default: return int64_t(load_as_f32(p, t, i));
  }
}
void store_from_i64(void* p, DType t, int64_t i, int64_t v) {
  switch (t) {
    case DType::I32: static_cast<int32_t*>(p)[i] = int32_t(v); break;
    case DType::I64: static_cast<int64_t*>(p)[i] = v; break;
    case DType::I8: static_cast<int8_t*>(p)[i] = int8_t(v); break;
    case DType::U8: static_cast<uint8_t*>(p)[i] = uint8_t(v); break;
    default: store_from_f32(p, t, i, float(v)); break;
  }
}
}  // namespace

void convert(const void* src, DType st, void* dst, DType dt, int64_t n) {
  if (st == dt) {
    std::memcpy(dst, src, size_t(n * dtype_size(st)));
    return;
  }
  if (is_integer(st) && is_integer(dt)) {
#pragma omp parallel for if (n > (1 << 16))
    for (int64_t i = 0; i < n; ++i) store_from_i64(dst, dt, i, load_as_i64(src, st, i));
    return;
  }
#pragma omp parallel for if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) store_from_f32(dst, dt, i, load_as_f32(src, st, i));
}

void strided_copy(const void* src, int64_t es, const int64_t* shape, const int64_t* strides, int ndim,
                  void* dst) {
  int64_t n = 1;
  for (int d = 0; d < ndim; ++d) n *= shape[d];
  if (n == 0) return;
  if (ndim == 0) {
    std::memcpy(dst, src, size_t(es));
    return;
  }
  // Copy row by row along the last dimension; the outer index is decoded per row.
  const int64_t inner = shape[ndim - 1];
  const int64_t inner_stride = strides[ndim - 1];
  const int64_t rows = n / inner;
  const auto* s = static_cast<const char*>(src);
  auto* d = static_cast<char*>(dst);
#pragma omp parallel for if (n > (1 << 16))
  for (int64_t r = 0; r < rows; ++r) {
    int64_t rem = r, off = 0;
    for (int k = ndim - 2; k >= 0; --k) {
      off += (rem % shape[k]) * strides[k];
      rem /= shape[k];
    }
    char* out = d + r * inner * es;
    const char* in = s + off * es;
    if (inner_stride == 1) {
      std::memcpy(out, in, size_t(inner * es));
    } else {
      for (int64_t j = 0; j < inner; ++j) std::memcpy(out + j * es, in + j * inner_stride * es, size_t(es));
    }
  }
}

void strided_scatter(const void* src, int64_t es, void* dst, const int64_t* shape, const int64_t* st, int ndim) {
  int64_t n = 1;
  for (int d = 0; d < ndim; ++d) n *= shape[d];
  if (n == 0) return;
  if (ndim == 0) {
    std::memcpy(dst, src, size_t(es));
    return;
  }
  const int64_t inner = shape[ndim - 1], is = st[ndim - 1], rows = n / inner;
  const auto* s = static_cast<const char*>(src);
  auto* d = static_cast<char*>(dst);
#pragma omp parallel for if (n > 65536)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t rem = r, off = 0;
    for (int k = ndim - 2; k >= 0; --k) {
      off += (rem % shape[k]) * st[k];
      rem /= shape[k];
    }
    const char* in = s + r * inner * es;
    char* o = d + off * es;
    if (is == 1) {
      std::memcpy(o, in, size_t(inner * es));
    } else {
      for (int64_t j = 0; j < inner; ++j) std::memcpy(o + j * is * es, in + j * es, size_t(es));
    }
  }
}

}  // namespace anvil::kernels::cpu
