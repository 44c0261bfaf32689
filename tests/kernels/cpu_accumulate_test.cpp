// The CPU kernels whose headers say they accumulate (+=) really add into what the output holds,
// as their CUDA counterparts do (kernels/cuda/{embedding,norm,matmul,elementwise}.h): embedding
// backward, the norms' weight/bias gradients, gemm with accumulate, axpy. Each runs once into
// zeros and once into a prefilled buffer; the second must be the prefill plus the first.
#include <gtest/gtest.h>

#include <vector>

#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/embedding.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/norm.h"

namespace anvil {
namespace {

namespace cpu = kernels::cpu;

std::vector<float> ramp(size_t n, float scale, float shift) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = scale * float(int(i % 7) - 3) + shift * float(i % 3);
  return v;
}

// out(zeros) and out(prefill) from `run`; expects out(prefill) == prefill + out(zeros).
template <typename Run>
void expect_accumulates(size_t n, Run run, const char* what) {
  std::vector<float> zero(n, 0.0f), pre = ramp(n, 0.25f, 1.0f);
  std::vector<float> filled = pre;
  run(zero.data());
  run(filled.data());
  for (size_t i = 0; i < n; ++i) EXPECT_NEAR(filled[i], pre[i] + zero[i], 1e-5f) << what << " element " << i;
}

TEST(CpuAccumulate, EmbeddingBackwardAddsIntoGradWeight) {
  const int64_t n = 6, C = 5, V = 4;
  const std::vector<int64_t> ids = {0, 2, 2, 3, 0, 1};
  const auto g = ramp(size_t(n * C), 0.5f, 0.1f);
  expect_accumulates(size_t(V * C), [&](float* gw) { cpu::embedding_backward_f32(g.data(), ids.data(), n, C, V, gw); },
                     "embedding_backward_f32");
}

TEST(CpuAccumulate, NormParameterGradientsAdd) {
  const int64_t N = 3, C = 8;
  const auto x = ramp(size_t(N * C), 0.3f, 0.2f), w = ramp(size_t(C), 0.1f, 1.0f), b = ramp(size_t(C), 0.2f, 0.0f);
  const auto gy = ramp(size_t(N * C), 0.7f, -0.1f);
  const size_t rows = size_t(N), elems = size_t(N * C);
  std::vector<float> out(elems), mean(rows), rstd(rows), dx(elems);
  cpu::layer_norm_forward_f32(x.data(), w.data(), b.data(), N, C, 1e-5f, out.data(), mean.data(), rstd.data());
  expect_accumulates(size_t(C), [&](float* dw) {
    cpu::layer_norm_backward_f32(gy.data(), x.data(), w.data(), mean.data(), rstd.data(), N, C, dx.data(), dw, nullptr);
  }, "layer_norm dweight");
  expect_accumulates(size_t(C), [&](float* db) {
    cpu::layer_norm_backward_f32(gy.data(), x.data(), w.data(), mean.data(), rstd.data(), N, C, nullptr, nullptr, db);
  }, "layer_norm dbias");
  cpu::rms_norm_forward_f32(x.data(), w.data(), N, C, 1e-5f, out.data(), rstd.data());
  expect_accumulates(size_t(C), [&](float* dw) {
    cpu::rms_norm_backward_f32(gy.data(), x.data(), w.data(), rstd.data(), N, C, nullptr, dw);
  }, "rms_norm dweight");
}

TEST(CpuAccumulate, GemmWithAccumulateAndAxpyAdd) {
  const int64_t M = 3, N = 4, K = 5;
  const auto a = ramp(size_t(M * K), 0.5f, 0.3f), b = ramp(size_t(K * N), 0.25f, -0.2f);
  expect_accumulates(size_t(M * N), [&](float* c) {
    cpu::gemm_f32(M, N, K, a.data(), K, 1, b.data(), N, 1, c, N, /*accumulate=*/true);
  }, "gemm_f32 accumulate");
  expect_accumulates(size_t(M * K), [&](float* dst) { cpu::axpy_f32(dst, a.data(), -0.5f, M * K); }, "axpy_f32");
}

}  // namespace
}  // namespace anvil
