// The CUDA kernels added for the op dispatch, each against its CPU reference kernel on random
// inputs of odd sizes: sum and max over a dim (inner == 1 and > 1), unary math forward/backward,
// strided copy (gather and scatter, 1/2/4/8-byte elements), the simple f32 attention (GQA, causal
// with S > T and S < T, full) forward and backward, and SGD. f32 bounds: 1e-5 relative to the
// tensor's scale (sums reorder; unary math uses the device's expf/tanhf), exact for copies.
// Skips without a GPU (label gpu).
#include <cstring>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/reduce.h"
#include "kernels/cpu/unary.h"
#include "kernels/cuda/adamw.h"
#include "kernels/cuda/attention.h"
#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/reduce.h"
#include "tests/kernels/gpu_test_util.h"

namespace anvil {
namespace {

namespace cuda = kernels::cuda;
using gputest::all_close;
using gputest::DeviceTensor;
using gputest::random_normal;
using gputest::random_uniform;
using gputest::tolerance_for;

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

TEST(ReduceGpu, UnaryForwardAndBackwardMatchTheCpu) {
  ANVIL_SKIP_WITHOUT_GPU();
  using kernels::cpu::UnaryOp;
  const int64_t n = 4099;
  for (UnaryOp op : {UnaryOp::Exp, UnaryOp::Log, UnaryOp::Tanh, UnaryOp::Sqrt, UnaryOp::Gelu, UnaryOp::Silu,
                     UnaryOp::Relu}) {
    SCOPED_TRACE(int(op));
    const bool positive = op == UnaryOp::Log || op == UnaryOp::Sqrt;
    const auto x = positive ? random_uniform(n, 5, 0.05f, 4.0f) : random_uniform(n, 5, -4.0f, 4.0f);
    const auto gy = random_normal(n, 6);
    std::vector<float> y(static_cast<size_t>(n)), gx(static_cast<size_t>(n));
    kernels::cpu::unary_forward_f32(op, x.data(), y.data(), n);
    const auto& saved = kernels::cpu::unary_saves_output(op) ? y : x;
    kernels::cpu::unary_backward_f32(op, saved.data(), gy.data(), gx.data(), n);
    DeviceTensor dx(x, DType::F32), dy(n, DType::F32), dsaved(saved, DType::F32), dgy(gy, DType::F32),
        dgx(n, DType::F32);
    cuda::unary_forward_f32(op, static_cast<const float*>(dx.data()), static_cast<float*>(dy.data()), n, nullptr);
    cuda::unary_backward_f32(op, static_cast<const float*>(dsaved.data()), static_cast<const float*>(dgy.data()),
                             static_cast<float*>(dgx.data()), n, nullptr);
    EXPECT_TRUE(all_close(dy.read(), y, kF32, "forward"));
    EXPECT_TRUE(all_close(dgx.read(), gx, kF32, "backward"));
  }
}

TEST(ReduceGpu, StridedCopyGathersAndScattersAnyElementSize) {
  ANVIL_SKIP_WITHOUT_GPU();
  // A (3, 5, 7) source read as its (7, 3, 5) permutation into a contiguous destination, then
  // scattered back through the same strides into a zeroed buffer: the round trip is the identity.
  const int64_t shape[3] = {7, 3, 5};
  const int64_t src_strides[3] = {1, 35, 7};  // permute(2, 0, 1) of a contiguous (3, 5, 7)
  const int64_t dst_strides[3] = {15, 5, 1};
  const int64_t n = 105;
  for (int64_t esz : {1, 2, 4, 8}) {
    SCOPED_TRACE(esz);
    std::vector<uint8_t> src(size_t(n * esz));
    for (size_t i = 0; i < src.size(); ++i) src[i] = uint8_t((i * 37 + 11) & 0xff);
    std::vector<uint8_t> want(src.size());
    for (int64_t a = 0; a < 7; ++a)
      for (int64_t b = 0; b < 3; ++b)
        for (int64_t c = 0; c < 5; ++c) {
          const int64_t so = a * src_strides[0] + b * src_strides[1] + c * src_strides[2];
          const int64_t d = a * dst_strides[0] + b * dst_strides[1] + c * dst_strides[2];
          std::memcpy(&want[size_t(d * esz)], &src[size_t(so * esz)], size_t(esz));
        }
    auto dsrc = gputest::to_device(src);
    gputest::DeviceBuffer ddst(src.size()), dback(src.size());
    cuda::strided_copy(esz, dsrc.get(), src_strides, ddst.get(), dst_strides, shape, 3, nullptr);
    EXPECT_EQ(gputest::to_host<uint8_t>(ddst, src.size()), want);
    kernels::cuda_memset_zero(dback.get(), src.size(), 0);
    cuda::strided_copy(esz, ddst.get(), dst_strides, dback.get(), src_strides, shape, 3, nullptr);
    EXPECT_EQ(gputest::to_host<uint8_t>(dback, src.size()), src);
  }
}

// (B, H, S, D) -> (B, H, D, S), as the CPU attention kernel wants its keys.
std::vector<float> transpose_last(const std::vector<float>& x, int64_t BH, int64_t S, int64_t D) {
  std::vector<float> t(x.size());
  for (int64_t b = 0; b < BH; ++b)
    for (int64_t s = 0; s < S; ++s)
      for (int64_t d = 0; d < D; ++d) t[size_t((b * D + d) * S + s)] = x[size_t((b * S + s) * D + d)];
  return t;
}

TEST(ReduceGpu, SimpleAttentionMatchesTheCpuKernels) {
  ANVIL_SKIP_WITHOUT_GPU();
  struct Case {
    int64_t B, Hq, Hkv, T, S, D;
    bool causal;
  };
  for (Case c : {Case{2, 4, 2, 17, 17, 12, true}, Case{1, 3, 1, 5, 21, 64, true}, Case{1, 2, 2, 9, 4, 8, true},
                 Case{2, 2, 1, 7, 11, 33, false}}) {
    SCOPED_TRACE("T=" + std::to_string(c.T) + " S=" + std::to_string(c.S) + " D=" + std::to_string(c.D));
    const float scale = 1.0f / std::sqrt(float(c.D));
    const int64_t nq = c.B * c.Hq * c.T * c.D, nk = c.B * c.Hkv * c.S * c.D, nkq = c.B * c.Hq * c.S * c.D;
    const auto q = random_normal(nq, 1), k = random_normal(nk, 2), v = random_normal(nk, 3), g = random_normal(nq, 4);
    const auto k_t = transpose_last(k, c.B * c.Hkv, c.S, c.D), v_t = transpose_last(v, c.B * c.Hkv, c.S, c.D);
    std::vector<float> out(static_cast<size_t>(nq)), lse(static_cast<size_t>(c.B * c.Hq * c.T)),
        dq(static_cast<size_t>(nq)), dk(static_cast<size_t>(nkq)), dv(static_cast<size_t>(nkq));
    kernels::cpu::attention_forward_f32(q.data(), k_t.data(), v.data(), c.B, c.Hq, c.Hkv, c.T, c.S, c.D, c.causal,
                                        scale, out.data(), lse.data());
    kernels::cpu::attention_backward_f32(q.data(), k.data(), k_t.data(), v_t.data(), out.data(), g.data(), lse.data(),
                                         c.B, c.Hq, c.Hkv, c.T, c.S, c.D, c.causal, scale, dq.data(), dk.data(),
                                         dv.data());
    DeviceTensor dq_in(q, DType::F32), dk_in(k, DType::F32), dv_in(v, DType::F32), dg(g, DType::F32);
    DeviceTensor dout(nq, DType::F32), dlse(int64_t(lse.size()), DType::F32), ddelta(int64_t(lse.size()), DType::F32);
    DeviceTensor ddq(nq, DType::F32), ddk(nkq, DType::F32), ddv(nkq, DType::F32);
    cuda::SimpleAttentionArgs a;
    a.batch = c.B;
    a.num_heads = c.Hq;
    a.num_kv_heads = c.Hkv;
    a.q_len = c.T;
    a.kv_len = c.S;
    a.head_dim = c.D;
    a.causal = c.causal;
    a.scale = scale;
    a.q = static_cast<const float*>(dq_in.data());
    a.k = static_cast<const float*>(dk_in.data());
    a.v = static_cast<const float*>(dv_in.data());
    a.out = static_cast<float*>(dout.data());
    a.lse = static_cast<float*>(dlse.data());
    cuda::attention_simple_forward_f32(a);
    a.dout = static_cast<const float*>(dg.data());
    a.dq = static_cast<float*>(ddq.data());
    a.dk_per_qhead = static_cast<float*>(ddk.data());
    a.dv_per_qhead = static_cast<float*>(ddv.data());
    a.delta = static_cast<float*>(ddelta.data());
    cuda::attention_simple_backward_f32(a);
    EXPECT_TRUE(all_close(dout.read(), out, kF32, "out"));
    // Rows that see no key (S < T) have lse = -inf on both sides; compare the finite ones.
    auto got_lse = dlse.read();
    for (size_t i = 0; i < lse.size(); ++i) {
      if (std::isinf(lse[i])) {
        EXPECT_TRUE(std::isinf(got_lse[i]) && got_lse[i] < 0) << "lse row " << i;
        got_lse[i] = lse[i] = 0.0f;
      }
    }
    EXPECT_TRUE(all_close(got_lse, lse, kF32, "lse"));
    EXPECT_TRUE(all_close(ddq.read(), dq, kF32, "dq"));
    EXPECT_TRUE(all_close(ddk.read(), dk, kF32, "dk per query head"));
    EXPECT_TRUE(all_close(ddv.read(), dv, kF32, "dv per query head"));
  }
}

TEST(ReduceGpu, SgdStepMatchesTheFormula) {
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
