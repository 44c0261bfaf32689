// CPU reference kernels for the optimizer updates; see optimizer.h for the math.
//
// Each loop runs in parallel only above a size threshold: small tensors (biases, norm weights)
// finish faster on one thread than it takes to wake the OpenMP team.
#include "kernels/cpu/optimizer.h"

#include <cmath>

namespace anvil::kernels::cpu {
namespace {
constexpr int64_t kParallelThreshold = 1 << 15;
}  // namespace

void adamw_step_f32(float* param, const float* grad, float* m, float* v, int64_t n, float lr, float beta1,
                    float beta2, float eps, float weight_decay, int64_t step) {
  const double bias_correction1 = 1.0 - std::pow(double(beta1), double(step));
  const double bias_correction2 = 1.0 - std::pow(double(beta2), double(step));
  const float step_size = float(double(lr) / bias_correction1);
  const float inv_sqrt_bc2 = float(1.0 / std::sqrt(bias_correction2));
  const float decay_factor = 1.0f - lr * weight_decay;
  const float one_minus_beta1 = 1.0f - beta1;
  const float one_minus_beta2 = 1.0f - beta2;
#pragma omp parallel for schedule(static) if (n > kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) {
    const float g = grad[i];
    const float mi = beta1 * m[i] + one_minus_beta1 * g;
    const float vi = beta2 * v[i] + one_minus_beta2 * g * g;
    m[i] = mi;
    v[i] = vi;
    const float denom = std::sqrt(vi) * inv_sqrt_bc2 + eps;
    param[i] = param[i] * decay_factor - step_size * mi / denom;
  }
}

void sgd_step_f32(float* param, const float* grad, float* momentum_buf, int64_t n, float lr, float momentum,
                  float weight_decay, bool nesterov) {
  if (momentum == 0.0f || momentum_buf == nullptr) {
#pragma omp parallel for schedule(static) if (n > kParallelThreshold)
    for (int64_t i = 0; i < n; ++i) {
      const float g = grad[i] + weight_decay * param[i];
      param[i] -= lr * g;
    }
    return;
  }
#pragma omp parallel for schedule(static) if (n > kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) {
    const float g = grad[i] + weight_decay * param[i];
    const float buf = momentum * momentum_buf[i] + g;
    momentum_buf[i] = buf;
    param[i] -= lr * (nesterov ? g + momentum * buf : buf);
  }
}

double sum_squares_f32(const float* x, int64_t n) {
  double total = 0.0;
#pragma omp parallel for schedule(static) reduction(+ : total) if (n > kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) total += double(x[i]) * double(x[i]);
  return total;
}

}  // namespace anvil::kernels::cpu
