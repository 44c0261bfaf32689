// CUDA fused AdamW against a double-precision torch-style AdamW over several steps (with weight
// decay, a grad scale, a device clip coefficient and a bf16 weight copy), and the two-pass global
// gradient norm against a double sum, including its determinism; SGD against its formula.
#include <cmath>

#include "kernels/cuda/optimizer.h"
#include "tests/kernels/gpu_test_util.h"

namespace anvil {
namespace {

namespace cuda = kernels::cuda;
using gputest::all_close;
using gputest::DeviceTensor;
using gputest::random_normal;
using gputest::round_to;
using gputest::tolerance_for;

TEST(AdamWGpu, StepsMatchReferenceAndWriteBf16Copy) {
  ANVIL_SKIP_WITHOUT_GPU();
  const int64_t n = 5003;
  const double lr = 1e-2, b1 = 0.9, b2 = 0.95, eps = 1e-8, wd = 0.1, grad_scale = 0.5, clip = 0.8;
  for (DType gt : {DType::F32, DType::BF16}) {
    auto p0 = random_normal(n, 1);
    std::vector<double> p(p0.begin(), p0.end()), m(n, 0.0), v(n, 0.0);
    DeviceTensor dp(p0, DType::F32), dm(n, DType::F32), dv(n, DType::F32), copy(n, DType::BF16);
    DeviceTensor dclip(std::vector<float>{float(clip)}, DType::F32);
    for (int64_t step = 1; step <= 3; ++step) {
      auto g = round_to(random_normal(n, 10 + step), gt);
      for (int64_t i = 0; i < n; ++i) {
        const double gi = g[i] * grad_scale * double(float(clip));
        p[i] -= lr * wd * p[i];
        m[i] = b1 * m[i] + (1 - b1) * gi;
        v[i] = b2 * v[i] + (1 - b2) * gi * gi;
        const double mhat = m[i] / (1 - std::pow(b1, step)), vhat = v[i] / (1 - std::pow(b2, step));
        p[i] -= lr * mhat / (std::sqrt(vhat) + eps);
      }
      DeviceTensor dg(g, gt);
      cuda::AdamWArgs a;
      a.params = dp.buf.as<float>();
      a.grads = dg.data();
      a.grad_dtype = gt;
      a.m = dm.buf.as<float>();
      a.v = dv.buf.as<float>();
      a.param_copy = copy.data();
      a.n = n;
      a.lr = float(lr);
      a.beta1 = float(b1);
      a.beta2 = float(b2);
      a.eps = float(eps);
      a.weight_decay = float(wd);
      a.step = step;
      a.grad_scale = float(grad_scale);
      a.grad_scale_device = dclip.buf.as<float>();
      cuda::adamw_step(a);
    }
    const auto got = dp.read();
    EXPECT_TRUE(all_close(got, p, {1e-5, 1e-5}, "adamw params, grads " + std::string(dtype_name(gt))));
    EXPECT_TRUE(all_close(dm.read(), m, {1e-5, 1e-6}, "adamw m"));
    EXPECT_TRUE(all_close(dv.read(), v, {1e-5, 1e-7}, "adamw v"));
    const auto c = copy.read();
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(c[i], round_to(got[i], DType::BF16)) << "bf16 copy at " << i;
  }
}

TEST(AdamWGpu, GlobalGradNormIsExactAndDeterministic) {
  ANVIL_SKIP_WITHOUT_GPU();
  const int64_t sizes[] = {1, 1000, 300001};
  const int64_t per = cuda::grad_norm_partials_per_tensor();
  DeviceTensor partials(per * 3, DType::F32), norm(1, DType::F32), scale(1, DType::F32);
  std::vector<DeviceTensor> grads;
  double sumsq = 0;
  for (int i = 0; i < 3; ++i) {
    const DType t = i == 1 ? DType::BF16 : DType::F32;
    auto g = round_to(random_normal(sizes[i], 40 + i), t);
    for (float x : g) sumsq += double(x) * x;
    grads.emplace_back(g, t);
  }
  std::vector<float> first;
  for (int run = 0; run < 2; ++run) {
    for (int i = 0; i < 3; ++i) {
      cuda::grad_sumsq_partials(grads[i].dtype, grads[i].data(), sizes[i], partials.buf.as<float>() + i * per,
                                nullptr);
    }
    cuda::grad_norm_finish(partials.buf.as<float>(), 3 * per, norm.buf.as<float>(), 1.0f, scale.buf.as<float>(),
                           nullptr);
    const auto got = norm.read();
    if (run == 0) first = got;
    EXPECT_EQ(f32_bits(got[0]), f32_bits(first[0])) << "norm differs between runs";
  }
  const double want = std::sqrt(sumsq);
  EXPECT_NEAR(norm.read()[0], want, 1e-5 * want);
  EXPECT_NEAR(scale.read()[0], std::min(1.0, 1.0 / (want + 1e-6)), 1e-6);
}

TEST(SgdGpu, SgdStepMatchesTheFormula) {
  ANVIL_SKIP_WITHOUT_GPU();
  const int64_t n = 1001;
  const float lr = 0.1f, momentum = 0.9f, wd = 0.01f;
  for (bool nesterov : {false, true}) {
    const auto p0 = random_normal(n, 8), g = random_normal(n, 9), b0 = random_normal(n, 10);
    std::vector<double> want_p(static_cast<size_t>(n)), want_b(static_cast<size_t>(n));
    for (size_t i = 0; i < size_t(n); ++i) {
      const double gi = double(g[i]) + wd * double(p0[i]);
      want_b[i] = momentum * double(b0[i]) + gi;
      want_p[i] = double(p0[i]) - lr * (nesterov ? gi + momentum * want_b[i] : want_b[i]);
    }
    DeviceTensor dp(p0, DType::F32), dg(g, DType::F32), db(b0, DType::F32);
    cuda::sgd_step(static_cast<float*>(dp.data()), static_cast<const float*>(dg.data()), static_cast<float*>(db.data()),
                   n, lr, momentum, wd, nesterov, nullptr);
    EXPECT_TRUE(all_close(dp.read(), want_p, tolerance_for(DType::F32), "params"));
    EXPECT_TRUE(all_close(db.read(), want_b, tolerance_for(DType::F32), "momentum"));
  }
}

}  // namespace
}  // namespace anvil
