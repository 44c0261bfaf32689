// CUDA LayerNorm / RMSNorm forward and backward against double-precision
// formulas, in f32 and bf16, on odd row widths; parameter gradients must accumulate (+=).
#include <cmath>

#include "kernels/cuda/norm.h"
#include "tests/kernels/gpu_test_util.h"

namespace anvil {
namespace {

namespace cuda = kernels::cuda;
using gputest::all_close;
using gputest::DeviceTensor;
using gputest::random_normal;
using gputest::round_to;

struct NormRef {
  std::vector<double> y, mean, rstd, dx, dw, db;
};

// x (rows, cols); dw/db start from dw0/db0 (accumulation).
NormRef reference(bool rms, const std::vector<float>& x, const std::vector<float>& w, const std::vector<float>& b,
                  const std::vector<float>& dy, const std::vector<float>& dw0, const std::vector<float>& db0,
                  int64_t rows, int64_t cols, double eps) {
  NormRef r;
  r.y.resize(rows * cols);
  r.dx.resize(rows * cols);
  r.mean.resize(rows);
  r.rstd.resize(rows);
  r.dw.assign(dw0.begin(), dw0.end());
  r.db.assign(db0.begin(), db0.end());
  for (int64_t i = 0; i < rows; ++i) {
    const float* xr = &x[i * cols];
    double mean = 0, var = 0;
    if (!rms) {
      for (int64_t c = 0; c < cols; ++c) mean += xr[c];
      mean /= cols;
    }
    for (int64_t c = 0; c < cols; ++c) var += (xr[c] - mean) * (xr[c] - mean);
    const double rstd = 1.0 / std::sqrt(var / cols + eps);
    r.mean[i] = mean;
    r.rstd[i] = rstd;
    double mean_g = 0, mean_gx = 0;
    for (int64_t c = 0; c < cols; ++c) {
      const double xhat = (xr[c] - mean) * rstd, g = double(dy[i * cols + c]) * w[c];
      r.y[i * cols + c] = xhat * w[c] + (rms ? 0.0 : b[c]);
      mean_g += g;
      mean_gx += g * xhat;
      r.dw[c] += dy[i * cols + c] * xhat;
      r.db[c] += dy[i * cols + c];
    }
    mean_g = rms ? 0.0 : mean_g / cols;
    mean_gx /= cols;
    for (int64_t c = 0; c < cols; ++c) {
      const double xhat = (xr[c] - mean) * rstd, g = double(dy[i * cols + c]) * w[c];
      r.dx[i * cols + c] = rstd * (g - mean_g - xhat * mean_gx);
    }
  }
  return r;
}

void check(bool rms, DType t, int64_t rows, int64_t cols, uint64_t seed) {
  const float eps = 1e-5f;
  auto x = round_to(random_normal(rows * cols, seed, 2.0f), t);
  for (float& v : x) v += 0.5f;  // a non-zero mean, so centring matters
  x = round_to(x, t);
  auto w = round_to(random_normal(cols, seed + 2), t);
  auto b = round_to(random_normal(cols, seed + 3), t);
  auto dy = round_to(random_normal(rows * cols, seed + 4), t);
  auto dw0 = random_normal(cols, seed + 5), db0 = random_normal(cols, seed + 6);
  const NormRef want = reference(rms, x, w, b, dy, dw0, db0, rows, cols, eps);

  DeviceTensor dx_in(x, t), dw(w, t), dbias(b, t), y(rows * cols, t);
  DeviceTensor mean(rows, DType::F32), rstd(rows, DType::F32), ddy(dy, t), dx(rows * cols, t);
  DeviceTensor gw(dw0, DType::F32), gb(db0, DType::F32);
  float* mean_p = mean.buf.as<float>();
  float* rstd_p = rstd.buf.as<float>();
  if (rms) {
    cuda::rmsnorm_forward(t, dx_in.data(), dw.data(), y.data(), rstd_p, rows, cols, eps, nullptr);
    cuda::rmsnorm_backward(t, ddy.data(), dx_in.data(), dw.data(), rstd_p, dx.data(), gw.buf.as<float>(), rows, cols,
                           false, nullptr);
  } else {
    cuda::layernorm_forward(t, dx_in.data(), dw.data(), dbias.data(), y.data(), mean_p, rstd_p, rows, cols, eps,
                            nullptr);
    cuda::layernorm_backward(t, ddy.data(), dx_in.data(), dw.data(), mean_p, rstd_p, dx.data(), gw.buf.as<float>(),
                             gb.buf.as<float>(), rows, cols, false, nullptr);
  }
  const std::string what = std::string(rms ? "rmsnorm " : "layernorm ") +
                           std::string(dtype_name(t)) + " " + std::to_string(rows) + "x" + std::to_string(cols);
  const auto tol = t == DType::F32 ? gputest::Tolerance{1e-4, 1e-5} : gputest::tolerance_for(t);
  EXPECT_TRUE(all_close(y.read(), want.y, tol, "y " + what));
  EXPECT_TRUE(all_close(rstd.read(), want.rstd, {1e-4, 1e-5}, "rstd " + what));
  if (!rms) {
    EXPECT_TRUE(all_close(mean.read(), want.mean, {1e-4, 1e-5}, "mean " + what));
  }
  EXPECT_TRUE(all_close(dx.read(), want.dx, tol, "dx " + what));
  EXPECT_TRUE(all_close(gw.read(), want.dw, {1e-4, 1e-4}, "dweight (+=) " + what));
  if (!rms) {
    EXPECT_TRUE(all_close(gb.read(), want.db, {1e-4, 1e-4}, "dbias (+=) " + what));
  }
}

TEST(NormGpu, LayerNormForwardBackward) {
  ANVIL_SKIP_WITHOUT_GPU();
  for (DType t : {DType::F32, DType::BF16}) {
    check(false, t, 7, 33, 1);
    check(false, t, 130, 773, 2);
  }
}
TEST(NormGpu, RmsNormForwardBackward) {
  ANVIL_SKIP_WITHOUT_GPU();
  for (DType t : {DType::F32, DType::BF16}) {
    check(true, t, 5, 65, 3);
    check(true, t, 67, 1031, 4);
  }
}
TEST(NormGpu, AccumulateDxAddsToExistingGradient) {
  ANVIL_SKIP_WITHOUT_GPU();
  const int64_t rows = 4, cols = 40;
  auto x = random_normal(rows * cols, 71), w = random_normal(cols, 72), dy = random_normal(rows * cols, 73);
  auto prior = random_normal(rows * cols, 74);
  const auto want = reference(true, x, w, w, dy, std::vector<float>(cols), std::vector<float>(cols), rows, cols, 1e-5);
  DeviceTensor dx_in(x, DType::F32), dw(w, DType::F32), ddy(dy, DType::F32), y(rows * cols, DType::F32);
  DeviceTensor rstd(rows, DType::F32), dx(prior, DType::F32);
  cuda::rmsnorm_forward(DType::F32, dx_in.data(), dw.data(), y.data(), rstd.buf.as<float>(), rows, cols, 1e-5f,
                        nullptr);
  cuda::rmsnorm_backward(DType::F32, ddy.data(), dx_in.data(), dw.data(), rstd.buf.as<float>(), dx.data(), nullptr,
                         rows, cols, true, nullptr);
  std::vector<double> expect(rows * cols);
  for (size_t i = 0; i < expect.size(); ++i) expect[i] = prior[i] + want.dx[i];
  EXPECT_TRUE(all_close(dx.read(), expect, {1e-4, 1e-5}, "accumulated dx"));
}

}  // namespace
}  // namespace anvil
