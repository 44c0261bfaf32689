// Checks the CPU op tests share: tolerances, double copies of tensors, element-wise comparisons
// against double-precision formulas, and OpError message checks.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "core/base/error.h"
#include "core/tensor/tensor.h"

namespace anvil::test {

// bf16 keeps 8 significant bits: one rounding of the output is at most 2^-9 relative; allow two
// roundings (the op's f32 -> bf16 store and any f32 intermediate) plus slack.
inline constexpr double kBf16RelTol = 1.0 / 128;
// f32 kernels against the double formula: a few ulps of float.
inline constexpr double kF32RelTol = 2e-6;
// Norm-style comparisons (relative error of the whole tensor): bf16 inputs and output, and f32.
inline constexpr double kBf16NormTolerance = 2e-2;
inline constexpr double kF32Tolerance = 1e-5;

inline std::vector<double> as_doubles(const Tensor& t) {
  auto v = t.to_f32_vector();
  return std::vector<double>(v.begin(), v.end());
}

// Every element of `got` within rel_tol * max(|want|, 1e-3) of `want`.
inline void expect_values(const Tensor& got, const std::vector<double>& want, double rel_tol, const std::string& what) {
  auto g = got.to_f32_vector();
  ASSERT_EQ(g.size(), want.size()) << what;
  for (size_t i = 0; i < g.size(); ++i)
    ASSERT_NEAR(g[i], want[i], rel_tol * std::max(std::abs(want[i]), 1e-3)) << what << " element " << i;
}

// Every element of `got` within tol * max(1, |want|) of `want`.
inline void expect_close(const Tensor& got, const std::vector<double>& want, double tol) {
  auto g = got.to_f32_vector();
  ASSERT_EQ(g.size(), want.size());
  for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], want[i], tol * std::max(1.0, std::abs(want[i]))) << "at " << i;
}

// Runs f and expects an OpError whose message contains every fragment.
inline void expect_op_error(const std::function<void()>& f, const std::vector<std::string>& fragments) {
  try {
    f();
    ADD_FAILURE() << "expected an OpError containing " << fragments[0];
  } catch (const OpError& e) {
    for (const auto& frag : fragments)
      EXPECT_NE(std::string(e.what()).find(frag), std::string::npos) << "message: " << e.what() << "\nmissing: " << frag;
  }
}

// softmax (or log_softmax) over dim d of x (shape `shape`, row-major), in double.
inline std::vector<double> softmax_ref(const std::vector<double>& x, const Shape& shape, int64_t d, bool log) {
  int64_t outer = 1, inner = 1, n = shape[size_t(d)];
  for (int64_t i = 0; i < d; ++i) outer *= shape[size_t(i)];
  for (size_t i = size_t(d) + 1; i < shape.size(); ++i) inner *= shape[i];
  std::vector<double> out(x.size());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      auto at = [&](int64_t k) { return size_t((o * n + k) * inner + i); };
      double mx = -INFINITY, total = 0;
      for (int64_t k = 0; k < n; ++k) mx = std::max(mx, x[at(k)]);
      for (int64_t k = 0; k < n; ++k) total += std::exp(x[at(k)] - mx);
      for (int64_t k = 0; k < n; ++k)
        out[at(k)] = log ? x[at(k)] - mx - std::log(total) : std::exp(x[at(k)] - mx) / total;
    }
  return out;
}

}  // namespace anvil::test
