// Helpers shared by the *_gpu_test.cpp kernel tests: skip without a GPU, device buffers holding a
// dtype-encoded copy of host floats, seeded Philox inputs, and one per-dtype tolerance table.
// Uses only kernels/device_runtime.h, so the tests compile (and skip) in a build without CUDA.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <vector>

#include "core/base/dtype.h"
#include "core/base/error.h"
#include "core/base/rng.h"
#include "kernels/device_runtime.h"

// First statement of every GPU test.
#define ANVIL_SKIP_WITHOUT_GPU()                                                      \
  do {                                                                                \
    if (::anvil::kernels::cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device"; \
  } while (0)

namespace anvil::gputest {

// Raw device memory on device 0, freed on scope exit.
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t bytes) : bytes_(bytes), ptr_(kernels::cuda_malloc_or_null(bytes, 0)) {
    if (bytes > 0 && !ptr_) throw RuntimeFailure("test buffer: the GPU is out of memory");
  }
  ~DeviceBuffer() {
    // After a kernel fault every CUDA call fails (the error is sticky); the test already reports the
    // fault, and a throw from here while that exception unwinds would end the test binary.
    try {
      if (ptr_) kernels::cuda_free(ptr_, 0);
    } catch (const std::exception&) {
    }
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : bytes_(o.bytes_), ptr_(o.ptr_) { o.ptr_ = nullptr; }

  void* get() const { return ptr_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }
  size_t bytes() const { return bytes_; }
  void upload(const void* host, size_t n) { kernels::cuda_memcpy(ptr_, host, n, kernels::CopyKind::HostToDevice, 0); }
  void download(void* host, size_t n) const {
    kernels::cuda_memcpy(host, ptr_, n, kernels::CopyKind::DeviceToHost, 0);
  }

 private:
  size_t bytes_;
  void* ptr_;
};

template <typename T>
DeviceBuffer to_device(const std::vector<T>& host) {
  DeviceBuffer d(std::max<size_t>(host.size() * sizeof(T), 16));
  if (!host.empty()) d.upload(host.data(), host.size() * sizeof(T));
  return d;
}
template <typename T>
std::vector<T> to_host(const DeviceBuffer& d, size_t count) {
  std::vector<T> host(count);
  kernels::cuda_synchronize(0);
  if (count) d.download(host.data(), count * sizeof(T));
  return host;
}

inline std::vector<float> random_normal(int64_t n, uint64_t seed, float scale = 1.0f) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = scale * Philox4x32::normal(seed, uint64_t(i));
  return v;
}
inline std::vector<float> random_uniform(int64_t n, uint64_t seed, float lo, float hi) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = lo + (hi - lo) * Philox4x32::uniform(seed, uint64_t(i));
  return v;
}

// The value a float takes once stored in `t` (f32, bf16, f16).
// softmax of x[0, n) in double precision (the reference of the softmax and loss kernels).
inline std::vector<double> softmax_row(const float* x, int64_t n) {
  double m = -INFINITY, s = 0;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, double(x[i]));
  for (int64_t i = 0; i < n; ++i) s += std::exp(x[i] - m);
  std::vector<double> y(n);
  for (int64_t i = 0; i < n; ++i) y[i] = std::exp(x[i] - m) / s;
  return y;
}

inline float round_to(float v, DType t) {
  if (t == DType::BF16) return bf16_to_f32(f32_to_bf16(v));
  if (t == DType::F16) return f16_to_f32(f32_to_f16(v));
  return v;
}
inline std::vector<float> round_to(std::vector<float> v, DType t) {
  for (float& x : v) x = round_to(x, t);
  return v;
}

// A device copy of host floats stored as `dtype`.
struct DeviceTensor {
  DType dtype;
  int64_t n;
  DeviceBuffer buf;

  DeviceTensor(const std::vector<float>& values, DType t)
      : dtype(t), n(int64_t(values.size())), buf(std::max<size_t>(values.size() * size_t(dtype_size(t)), 16)) {
    if (values.empty()) return;
    if (t == DType::F32) {
      buf.upload(values.data(), values.size() * 4);
      return;
    }
    std::vector<uint16_t> bits(values.size());
    for (size_t i = 0; i < values.size(); ++i) {
      bits[i] = t == DType::BF16 ? f32_to_bf16(values[i]) : f32_to_f16(values[i]);
    }
    buf.upload(bits.data(), bits.size() * 2);
  }
  DeviceTensor(int64_t count, DType t) : DeviceTensor(std::vector<float>(static_cast<size_t>(count), 0.0f), t) {}

  void* data() const { return buf.get(); }
  std::vector<float> read() const {
    std::vector<float> out(static_cast<size_t>(n));
    kernels::cuda_synchronize(0);
    if (n == 0) return out;
    if (dtype == DType::F32) {
      buf.download(out.data(), out.size() * 4);
      return out;
    }
    std::vector<uint16_t> bits(out.size());
    buf.download(bits.data(), bits.size() * 2);
    for (size_t i = 0; i < out.size(); ++i) out[i] = dtype == DType::BF16 ? bf16_to_f32(bits[i]) : f16_to_f32(bits[i]);
    return out;
  }
};

// Bounds fit for the storage type of a kernel's output with fp32 accumulation inside.
struct Tolerance {
  double rel;  // times |want|
  double abs;  // times max |want| over the tensor, so near-zero entries are judged at tensor scale
};
inline Tolerance tolerance_for(DType t) {
  switch (t) {
    case DType::BF16: return {1e-2, 1e-2};
    case DType::F16: return {2e-3, 2e-3};
    default: return {1e-5, 1e-5};
  }
}

inline ::testing::AssertionResult all_close(const std::vector<float>& got, const std::vector<double>& want,
                                            Tolerance tol, const std::string& what) {
  if (got.size() != want.size()) {
    return ::testing::AssertionFailure() << what << ": size " << got.size() << " vs " << want.size();
  }
  double scale = 0.0;
  for (double w : want) scale = std::max(scale, std::fabs(w));
  int64_t bad = 0;
  std::ostringstream first;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::fabs(double(got[i]) - want[i]);
    const bool ok = err <= tol.abs * scale + tol.rel * std::fabs(want[i]);  // NaN fails here
    if (!ok) {
      if (bad < 5) first << "\n  [" << i << "] got " << got[i] << " want " << want[i];
      ++bad;
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << ": " << bad << " of " << got.size()
                                       << " elements out of tolerance (rel " << tol.rel << ", abs " << tol.abs
                                       << " x max " << scale << ")" << first.str();
}
inline ::testing::AssertionResult all_close(const std::vector<float>& got, const std::vector<float>& want,
                                            Tolerance tol, const std::string& what) {
  return all_close(got, std::vector<double>(want.begin(), want.end()), tol, what);
}

}  // namespace anvil::gputest
