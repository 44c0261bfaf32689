#include "tests/support/gradcheck.h"

#include <cmath>
#include <sstream>

#include "kernels/cpu/convert.h"

namespace anvil::test {

Tensor random_tensor(const Shape& shape, Generator& gen, float lo, float hi, DType dtype) {
  return Tensor::rand(shape, gen, lo, hi, dtype);
}

Tensor random_param(const Shape& shape, Generator& gen, float lo, float hi) {
  Tensor t = random_tensor(shape, gen, lo, hi);
  t.set_requires_grad(true);
  return t;
}

double max_rel_error(const Tensor& a, const Tensor& b, double floor) {
  auto va = a.to_f32_vector(), vb = b.to_f32_vector();
  if (va.size() != vb.size()) return INFINITY;
  double worst = 0;
  for (size_t i = 0; i < va.size(); ++i)
    worst = std::max(worst, std::abs(double(va[i]) - vb[i]) / std::max(std::abs(double(vb[i])), floor));
  return worst;
}

double norm_rel_error(const Tensor& a, const Tensor& b) {
  auto va = a.to_f32_vector(), vb = b.to_f32_vector();
  if (va.size() != vb.size()) return INFINITY;
  double num = 0, den = 0;
  for (size_t i = 0; i < va.size(); ++i) {
    num += (double(va[i]) - vb[i]) * (double(va[i]) - vb[i]);
    den += double(vb[i]) * vb[i];
  }
  return std::sqrt(num) / std::max(std::sqrt(den), 1e-30);
}

namespace {
double weighted_sum(const Tensor& out, const std::vector<float>& w) {
  auto v = out.to_f32_vector();
  double s = 0;
  for (size_t i = 0; i < v.size(); ++i) s += double(v[i]) * w[i];
  return s;
}
}  // namespace

::testing::AssertionResult gradcheck(const OpFn& f, std::vector<Tensor> inputs, GradcheckOptions opts) {
  Generator gen(opts.seed);
  // Analytic gradients.
  for (auto& t : inputs)
    if (t.defined() && t.requires_grad()) t.zero_grad();
  Tensor out = f(inputs);
  Tensor weights = Tensor::rand(out.shape(), gen, -1.0f, 1.0f);
  std::vector<float> w = weights.to_f32_vector();
  Tensor loss = ops::sum(ops::mul(out, weights));
  loss.backward();

  std::ostringstream failures;
  int nfail = 0;
  NoGradGuard no_grad;
  for (size_t idx = 0; idx < inputs.size(); ++idx) {
    Tensor& x = inputs[idx];
    if (!x.defined() || !x.requires_grad()) continue;
    Tensor grad = x.grad();
    if (!grad.defined()) return ::testing::AssertionFailure() << "input " << idx << " got no gradient";
    std::vector<float> ga = grad.to_f32_vector();
    ANVIL_ASSERT(x.is_contiguous() && x.dtype() == DType::F32, "gradcheck inputs must be contiguous f32");
    float* data = x.data<float>();
    const int64_t n = x.numel();
    std::vector<int64_t> probes;
    if (n <= opts.max_checks_per_input) {
      for (int64_t i = 0; i < n; ++i) probes.push_back(i);
    } else {
      for (int64_t k = 0; k < opts.max_checks_per_input; ++k)
        probes.push_back(int64_t(Philox4x32::word(opts.seed + idx, uint64_t(k)) % uint64_t(n)));
    }
    for (int64_t i : probes) {
      const float orig = data[i];
      const double h = opts.eps * std::max(1.0, std::abs(double(orig)));
      data[i] = float(orig + h);
      double lp = weighted_sum(f(inputs), w);
      data[i] = float(orig - h);
      double lm = weighted_sum(f(inputs), w);
      data[i] = orig;
      double numeric = (lp - lm) / (2 * h);
      double analytic = ga[size_t(i)];
      if (std::abs(numeric - analytic) > opts.atol + opts.rtol * std::abs(numeric)) {
        if (nfail++ < 8)
          failures << "input " << idx << " element " << i << ": analytic " << analytic << " numeric " << numeric << "\n";
      }
    }
  }
  if (nfail) return ::testing::AssertionFailure() << nfail << " gradient mismatches:\n" << failures.str();
  return ::testing::AssertionSuccess();
}

}  // namespace anvil::test
