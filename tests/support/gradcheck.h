// Finite-difference gradient checks and seeded random inputs for op tests.
//
// gradcheck(f, inputs) compares autograd's gradient of L = sum(f(inputs) * W), W a fixed random
// weighting, with central differences (L(x + h) - L(x - h)) / 2h. L is accumulated in double on the
// host so that the f32 rounding of the sum does not swamp the difference quotient.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <vector>

#include "core/ops/ops.h"

namespace anvil::test {

struct GradcheckOptions {
  double eps = 1e-3;    // step h, scaled by max(1, |x|)
  double atol = 3e-3;
  double rtol = 3e-2;
  int64_t max_checks_per_input = 48;  // elements probed per input (all when smaller)
  uint64_t seed = 12345;
};

using OpFn = std::function<Tensor(const std::vector<Tensor>&)>;

// Inputs with requires_grad set are checked; the others are held fixed.
::testing::AssertionResult gradcheck(const OpFn& f, std::vector<Tensor> inputs, GradcheckOptions opts = {});

// Uniform random f32 values in [lo, hi) from a seeded generator (never all zeros).
Tensor random_tensor(const Shape& shape, Generator& gen, float lo = -1.0f, float hi = 1.0f,
                     DType dtype = DType::F32);
Tensor random_param(const Shape& shape, Generator& gen, float lo = -1.0f, float hi = 1.0f);  // requires grad

// max |a - b| / max(|b|, floor) over elements, and ||a - b|| / ||b||.
double max_rel_error(const Tensor& a, const Tensor& b, double floor = 1e-3);
double norm_rel_error(const Tensor& a, const Tensor& b);

}  // namespace anvil::test
