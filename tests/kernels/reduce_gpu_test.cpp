// CUDA reductions over one dim against the CPU reference kernels on random inputs of odd sizes:
// sum and max over a dim (inner == 1 and > 1), and the max backward. f32 bounds: 1e-5 relative to
// the tensor's scale (sums reorder). Skips without a GPU (label gpu).
#include "kernels/cpu/reduce.h"
#include "kernels/cuda/reduce.h"
#include "tests/kernels/gpu_test_util.h"

namespace anvil {
namespace {

namespace cuda = kernels::cuda;
using gputest::all_close;
using gputest::DeviceTensor;
using gputest::random_normal;

constexpr gputest::Tolerance kF32 = {1e-5, 1e-5};

TEST(ReduceGpu, SumAndMaxOverADimMatchTheCpu) {
  ANVIL_SKIP_WITHOUT_GPU();
  struct Case {
    int64_t outer, n, inner;
  };
  for (Case c : {Case{7, 1001, 1}, Case{3, 37, 5}, Case{1, 513, 129}, Case{5, 1, 3}}) {
    SCOPED_TRACE(std::to_string(c.outer) + "x" + std::to_string(c.n) + "x" + std::to_string(c.inner));
    const auto x = random_normal(c.outer * c.n * c.inner, 3 + c.n);
    std::vector<float> want_sum(size_t(c.outer * c.inner)), want_max(want_sum.size());
    std::vector<int64_t> want_arg(want_sum.size());
    kernels::cpu::sum_dim_f32(x.data(), c.outer, c.n, c.inner, want_sum.data());
    kernels::cpu::max_dim_f32(x.data(), c.outer, c.n, c.inner, want_max.data(), want_arg.data());
    DeviceTensor dx(x, DType::F32), dsum(int64_t(want_sum.size()), DType::F32), dmax(int64_t(want_sum.size()), DType::F32);
    gputest::DeviceBuffer darg(std::max<size_t>(want_arg.size() * 8, 16));
    cuda::sum_dim_f32(static_cast<const float*>(dx.data()), c.outer, c.n, c.inner, static_cast<float*>(dsum.data()),
                      nullptr);
    cuda::max_dim_f32(static_cast<const float*>(dx.data()), c.outer, c.n, c.inner, static_cast<float*>(dmax.data()),
                      darg.as<int64_t>(), nullptr);
    EXPECT_TRUE(all_close(dsum.read(), want_sum, kF32, "sum"));
    EXPECT_EQ(dmax.read(), want_max);
    EXPECT_EQ(gputest::to_host<int64_t>(darg, want_arg.size()), want_arg);

    // The backward of max scatters the gradient to the argmax.
    const auto g = random_normal(int64_t(want_sum.size()), 77);
    std::vector<float> want_gi(x.size());
    kernels::cpu::max_dim_backward_f32(g.data(), want_arg.data(), c.outer, c.n, c.inner, want_gi.data());
    DeviceTensor dg(g, DType::F32), dgi(int64_t(x.size()), DType::F32);
    cuda::max_dim_backward_f32(static_cast<const float*>(dg.data()), darg.as<int64_t>(), c.outer, c.n, c.inner,
                               static_cast<float*>(dgi.data()), nullptr);
    EXPECT_EQ(dgi.read(), want_gi);
  }
}

}  // namespace
}  // namespace anvil
