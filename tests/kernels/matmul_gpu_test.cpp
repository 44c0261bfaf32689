// CUDA GEMM backends (tensor-core mma.sync, simple) against kernels/cpu gemm_f32 on the
// same bf16/f16-rounded inputs, over all four transpose combinations, odd multiples of 8, batches,
// the bias/GELU epilogue and beta accumulation; plus the can_run gate and the fallback.
#include <cmath>

#include "core/base/error.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cuda/matmul.h"
#include "tests/kernels/gpu_test_util.h"

namespace anvil {
namespace {

namespace cuda = kernels::cuda;
namespace cpu = kernels::cpu;
using gputest::all_close;
using gputest::DeviceTensor;
using gputest::random_normal;
using gputest::round_to;

struct Problem {
  int64_t M, N, K;
  bool a_t, b_t;
  int64_t batch = 1;
};

// Host reference for one batch: C = A @ B with the stored layouts of the problem.
std::vector<double> reference(const Problem& p, const std::vector<float>& A, const std::vector<float>& B,
                              int64_t batch_index) {
  const int64_t lda = p.a_t ? p.M : p.K, ldb = p.b_t ? p.K : p.N;
  std::vector<float> C(p.M * p.N);
  const float* a = A.data() + batch_index * p.M * p.K;
  const float* b = B.data() + batch_index * p.K * p.N;
  cpu::gemm_f32(p.M, p.N, p.K, a, p.a_t ? 1 : lda, p.a_t ? lda : 1, b, p.b_t ? 1 : ldb, p.b_t ? ldb : 1, C.data(),
                p.N, false);
  return std::vector<double>(C.begin(), C.end());
}

cuda::GemmArgs make_args(const Problem& p, DType in, DType out, const DeviceTensor& A, const DeviceTensor& B,
                         DeviceTensor& C) {
  cuda::GemmArgs g;
  g.M = p.M;
  g.N = p.N;
  g.K = p.K;
  g.input_dtype = in;
  g.A = A.data();
  g.lda = p.a_t ? p.M : p.K;
  g.a_transposed = p.a_t;
  g.B = B.data();
  g.ldb = p.b_t ? p.K : p.N;
  g.b_transposed = p.b_t;
  g.C = C.data();
  g.ldc = p.N;
  g.output_dtype = out;
  g.batch = p.batch;
  g.batch_stride_a = p.M * p.K;
  g.batch_stride_b = p.K * p.N;
  g.batch_stride_c = p.M * p.N;
  return g;
}

// fp32 accumulation of exactly representable inputs: only summation order differs.
gputest::Tolerance accumulate_tolerance(DType out) {
  return out == DType::F32 ? gputest::Tolerance{1e-4, 1e-4} : gputest::tolerance_for(out);
}

// f32 -> tf32 as cvt.rna.tf32.f32 rounds (nearest, ties away from zero; 10 mantissa bits).
float round_tf32(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  if ((bits & 0x7f800000u) != 0x7f800000u) bits = (bits + 0x1000u) & 0xffffe000u;
  std::memcpy(&v, &bits, 4);
  return v;
}
std::vector<float> round_tf32(std::vector<float> v) {
  for (float& x : v) x = round_tf32(x);
  return v;
}

// The tf32 kernel is judged on tf32-exact inputs: its products are then exact, as in the reference,
// and only the order of the f32 sums differs (the f32 bound applies).
void check_backend(cuda::GemmBackend backend, DType in, DType out, const Problem& p, uint64_t seed) {
  auto A = round_to(random_normal(p.batch * p.M * p.K, seed), in);
  auto B = round_to(random_normal(p.batch * p.K * p.N, seed + 1), in);
  if (backend == cuda::GemmBackend::Tf32) {
    A = round_tf32(A);
    B = round_tf32(B);
  }
  DeviceTensor dA(A, in), dB(B, in), dC(p.batch * p.M * p.N, out);
  auto args = make_args(p, in, out, dA, dB, dC);
  std::vector<double> want(static_cast<size_t>(p.batch * p.M * p.N));
  for (int64_t b = 0; b < p.batch; ++b) {
    const auto r = reference(p, A, B, b);
    std::copy(r.begin(), r.end(), want.begin() + b * p.M * p.N);
  }
  const auto used = cuda::gemm(args, backend);
  EXPECT_EQ(used, backend);
  EXPECT_TRUE(all_close(dC.read(), want, accumulate_tolerance(out),
                        "gemm backend " + std::to_string(int(backend)) + " M=" + std::to_string(p.M) +
                            " N=" + std::to_string(p.N) + " K=" + std::to_string(p.K) + " a_t=" +
                            std::to_string(p.a_t) + " b_t=" + std::to_string(p.b_t)));
}

const Problem kShapes[] = {{128, 128, 64, false, false}, {72, 40, 24, false, true}, {200, 136, 96, true, false},
                           {8, 264, 40, true, true},     {136, 8, 520, false, true}};

TEST(MatmulGpu, TensorCoreMatchesCpuForAllLayouts) {
  ANVIL_SKIP_WITHOUT_GPU();
  for (DType in : {DType::BF16, DType::F16}) {
    for (Problem p : kShapes) {
      for (bool a_t : {false, true}) {
        for (bool b_t : {false, true}) {
          p.a_t = a_t;
          p.b_t = b_t;
          check_backend(cuda::GemmBackend::TensorCore, in, DType::F32, p, 100 + p.M + p.K);
        }
      }
    }
  }
}

TEST(MatmulGpu, TensorCoreBatchedWith16BitOutput) {
  ANVIL_SKIP_WITHOUT_GPU();
  check_backend(cuda::GemmBackend::TensorCore, DType::BF16, DType::BF16, {96, 80, 48, false, true, 3}, 7);
  check_backend(cuda::GemmBackend::TensorCore, DType::F16, DType::F16, {40, 56, 136, true, false, 2}, 8);
}

TEST(MatmulGpu, SimpleKernelRunsOddShapesAndF32) {
  ANVIL_SKIP_WITHOUT_GPU();
  check_backend(cuda::GemmBackend::Simple, DType::F32, DType::F32, {37, 29, 19, false, false}, 11);
  check_backend(cuda::GemmBackend::Simple, DType::F32, DType::F32, {5, 33, 70, true, true, 2}, 12);
  check_backend(cuda::GemmBackend::Simple, DType::BF16, DType::F32, {17, 9, 31, true, false}, 13);
}

TEST(MatmulGpu, Tf32KernelMatchesCpuForAllLayoutsOddShapesAndBatches) {
  ANVIL_SKIP_WITHOUT_GPU();
  const Problem shapes[] = {{70, 130, 40, false, false}, {33, 17, 9, false, true}, {64, 64, 64, true, false, 2},
                            {5, 200, 27, true, true}};
  for (Problem p : shapes) {
    for (bool a_t : {false, true}) {
      for (bool b_t : {false, true}) {
        p.a_t = a_t;
        p.b_t = b_t;
        check_backend(cuda::GemmBackend::Tf32, DType::F32, DType::F32, p, 200 + p.M + p.K);
      }
    }
  }
}

TEST(MatmulGpu, Tf32IsChosenOnlyWhenAllowedAndStaysWithinTf32Rounding) {
  ANVIL_SKIP_WITHOUT_GPU();
  const Problem p{48, 40, 96, false, false};
  auto A = random_normal(p.M * p.K, 41), B = random_normal(p.K * p.N, 42);  // not tf32-exact
  DeviceTensor dA(A, DType::F32), dB(B, DType::F32), dC(p.M * p.N, DType::F32);
  auto args = make_args(p, DType::F32, DType::F32, dA, dB, dC);
  EXPECT_EQ(cuda::gemm(args), cuda::GemmBackend::Simple);  // f32 stays f32 unless allowed
  EXPECT_TRUE(all_close(dC.read(), reference(p, A, B, 0), accumulate_tolerance(DType::F32), "f32 without tf32"));
  args.allow_tf32 = true;
  EXPECT_EQ(cuda::gemm(args), cuda::GemmBackend::Tf32);
  // Each input carries a relative rounding error up to 2^-11: a product up to 2^-10, and a sum of K
  // products of random signs about sqrt(K) times one product's error, against a sum of size
  // ~sqrt(K): relative 1e-3 of the largest entry bounds it with margin.
  EXPECT_TRUE(all_close(dC.read(), reference(p, A, B, 0), {2e-3, 2e-3}, "f32 inputs on tf32"));
  args.input_dtype = DType::BF16;
  EXPECT_THROW(cuda::gemm(args, cuda::GemmBackend::Tf32), OpError);
}

TEST(MatmulGpu, AutoFallsBackWhenTensorCoresCannotRun) {
  ANVIL_SKIP_WITHOUT_GPU();
  const Problem p{37, 24, 20, false, false};
  auto A = round_to(random_normal(p.M * p.K, 21), DType::BF16);
  auto B = round_to(random_normal(p.K * p.N, 22), DType::BF16);
  DeviceTensor dA(A, DType::BF16), dB(B, DType::BF16), dC(p.M * p.N, DType::F32);
  auto args = make_args(p, DType::BF16, DType::F32, dA, dB, dC);
  EXPECT_FALSE(cuda::gemm_tensor_core_can_run(args));
  EXPECT_EQ(cuda::gemm(args), cuda::GemmBackend::Simple);
  EXPECT_TRUE(all_close(dC.read(), reference(p, A, B, 0), accumulate_tolerance(DType::F32), "auto fallback"));
  EXPECT_THROW(cuda::gemm(args, cuda::GemmBackend::TensorCore), OpError);
}

TEST(MatmulGpu, BiasGeluEpilogueAndBetaAccumulate) {
  ANVIL_SKIP_WITHOUT_GPU();
  const Problem p{72, 48, 40, false, true};
  auto A = round_to(random_normal(p.M * p.K, 31), DType::BF16);
  auto B = round_to(random_normal(p.K * p.N, 32), DType::BF16);
  auto bias = random_normal(p.N, 33);
  auto c0 = random_normal(p.M * p.N, 34);
  const auto ab = reference(p, A, B, 0);
  for (auto backend : {cuda::GemmBackend::TensorCore, cuda::GemmBackend::Simple, cuda::GemmBackend::Tf32}) {
    // bf16 values are tf32-exact: the tf32 kernel takes them as f32 and must give the same products.
    const DType in = backend == cuda::GemmBackend::Tf32 ? DType::F32 : DType::BF16;
    DeviceTensor dA(A, in), dB(B, in), dbias(bias, DType::F32);
    {  // C = gelu(0.5 * A @ B + bias)
      DeviceTensor dC(p.M * p.N, DType::F32);
      auto args = make_args(p, in, DType::F32, dA, dB, dC);
      args.alpha = 0.5f;
      args.epilogue = cuda::GemmEpilogue::BiasGelu;
      args.bias = dbias.buf.as<float>();
      cuda::gemm(args, backend);
      std::vector<double> want(ab.size());
      for (int64_t m = 0; m < p.M; ++m) {
        for (int64_t n = 0; n < p.N; ++n) {
          const double x = 0.5 * ab[m * p.N + n] + bias[n];
          want[m * p.N + n] = 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
        }
      }
      EXPECT_TRUE(all_close(dC.read(), want, {1e-4, 1e-4}, "bias+gelu epilogue, backend " + std::to_string(int(backend))));
    }
    {  // C += A @ B (beta = 1), the weight-gradient accumulation
      DeviceTensor dC(c0, DType::F32);
      auto args = make_args(p, in, DType::F32, dA, dB, dC);
      args.beta = 1.0f;
      cuda::gemm(args, backend);
      std::vector<double> want(ab.size());
      for (size_t i = 0; i < ab.size(); ++i) want[i] = ab[i] + c0[i];
      EXPECT_TRUE(all_close(dC.read(), want, {1e-4, 1e-4}, "beta accumulate, backend " + std::to_string(int(backend))));
    }
  }
}

}  // namespace
}  // namespace anvil
