// Every op wired to CUDA, forward and backward, against the same op on the CPU on fresh random
// inputs (odd sizes, broadcasts, strided views, grouped-query heads, a KV-cache offset). Both sides
// compute in f32; the CUDA side in other orders (tiled GEMM, tree reductions, online softmax), so
// results agree to rounding, not bitwise: bounds are relative L2 errors, 1e-5 for elementwise maps
// and 5e-5 where long dot products or reductions reorder the sums. Copies and casts must be exact.
// Skips without a GPU (label gpu).
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "core/ops/ops.h"
#include "tests/kernels/gpu_test_util.h"
#include "tests/support/gradcheck.h"

namespace anvil::ops {
namespace {

constexpr double kElementwiseTol = 1e-5;
constexpr double kReduceTol = 5e-5;

const Device kCuda = Device::cuda(0);

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

Tensor uniform(const Shape& shape, uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  Generator gen(seed);
  return Tensor::rand(shape, gen, lo, hi);
}

// Runs fn on CPU inputs and on CUDA copies, backpropagates the same random upstream gradient
// through both, and compares the outputs and the gradient of every floating input.
void check_op(const std::string& what, const Fn& fn, const std::vector<Tensor>& inputs, double tol,
              uint64_t seed = 99) {
  SCOPED_TRACE(what);
  std::vector<Tensor> cpu, gpu;
  for (const Tensor& t : inputs) {
    Tensor c = t.detach().clone();
    Tensor g = t.detach().to(kCuda);
    if (is_floating(t.dtype())) {
      c.set_requires_grad(true);
      g.set_requires_grad(true);
    }
    cpu.push_back(c);
    gpu.push_back(g);
  }
  Tensor out_cpu = fn(cpu);
  Tensor out_gpu = fn(gpu);
  ASSERT_EQ(out_gpu.device(), kCuda);
  ASSERT_EQ(out_gpu.shape(), out_cpu.shape());
  ASSERT_EQ(out_gpu.dtype(), out_cpu.dtype());
  EXPECT_LE(test::norm_rel_error(out_gpu, out_cpu), tol) << "forward";
  if (!out_cpu.requires_grad()) return;
  Tensor upstream = uniform(out_cpu.shape(), seed);
  out_cpu.backward(upstream);
  out_gpu.backward(upstream.to(kCuda));
  for (size_t i = 0; i < cpu.size(); ++i) {
    if (!cpu[i].requires_grad()) continue;
    ASSERT_EQ(cpu[i].grad().defined(), gpu[i].grad().defined()) << "input " << i;
    if (!cpu[i].grad().defined()) continue;
    EXPECT_EQ(gpu[i].grad().device(), kCuda) << "input " << i;
    EXPECT_LE(test::norm_rel_error(gpu[i].grad(), cpu[i].grad()), tol) << "gradient of input " << i;
  }
}

class OpsGpu : public ::testing::Test {
 protected:
  void SetUp() override { ANVIL_SKIP_WITHOUT_GPU(); }
};

TEST_F(OpsGpu, BinaryOpsWithBroadcasting) {
  const Tensor a = uniform({3, 5, 7}, 1), b_row = uniform({5, 1}, 2), b_col = uniform({1, 7}, 3);
  const Tensor positive = uniform({5, 7}, 4, 0.5f, 2.0f);
  check_op("add", [](auto& x) { return add(x[0], x[1]); }, {a, b_row}, kElementwiseTol);
  check_op("sub", [](auto& x) { return sub(x[0], x[1]); }, {b_col, a}, kElementwiseTol);
  check_op("mul", [](auto& x) { return mul(x[0], x[1]); }, {a, b_col}, kElementwiseTol);
  check_op("div", [](auto& x) { return div(x[0], x[1]); }, {a, positive}, kElementwiseTol);
  check_op("mul of a transposed view", [](auto& x) { return mul(x[0].transpose(0, 2), x[1]); },
           {a, uniform({7, 5, 3}, 5)}, kElementwiseTol);
  check_op("add_scalar", [](auto& x) { return add_scalar(x[0], 0.75f); }, {a}, kElementwiseTol);
  check_op("mul_scalar", [](auto& x) { return mul_scalar(x[0], -1.5f); }, {a}, kElementwiseTol);
  check_op("neg", [](auto& x) { return neg(x[0]); }, {a}, kElementwiseTol);
}

TEST_F(OpsGpu, UnaryMathAndActivations) {
  const Tensor x = uniform({4, 33}, 10, -3.0f, 3.0f), pos = uniform({4, 33}, 11, 0.1f, 3.0f);
  check_op("exp", [](auto& v) { return exp(v[0]); }, {x}, kElementwiseTol);
  check_op("log", [](auto& v) { return log(v[0]); }, {pos}, kElementwiseTol);
  check_op("tanh", [](auto& v) { return tanh(v[0]); }, {x}, kElementwiseTol);
  check_op("sqrt", [](auto& v) { return sqrt(v[0]); }, {pos}, kElementwiseTol);
  check_op("gelu", [](auto& v) { return gelu(v[0]); }, {x}, kElementwiseTol);
  check_op("silu", [](auto& v) { return silu(v[0]); }, {x}, kElementwiseTol);
  check_op("relu", [](auto& v) { return relu(v[0]); }, {x}, kElementwiseTol);
  // SwiGLU as the Llama MLP builds it.
  check_op("swiglu", [](auto& v) { return mul(silu(v[0]), v[1]); }, {x, uniform({4, 33}, 12)}, kElementwiseTol);
}

TEST_F(OpsGpu, Reductions) {
  const Tensor a = uniform({3, 37, 5}, 20);
  check_op("sum over 0 and 2", [](auto& x) { return sum(x[0], {0, 2}); }, {a}, kReduceTol);
  check_op("sum over the last dim, keepdim", [](auto& x) { return sum(x[0], {-1}, true); }, {a}, kReduceTol);
  check_op("sum of everything", [](auto& x) { return sum(x[0]); }, {uniform({301, 7}, 21)}, kReduceTol);
  check_op("mean over 1", [](auto& x) { return mean(x[0], {1}); }, {a}, kReduceTol);
  check_op("max over 1", [](auto& x) { return max(x[0], 1); }, {a}, kElementwiseTol);
  // sum_to_shape through a broadcast add's backward: a bias-like (1, 5) operand.
  check_op("broadcast add backward", [](auto& x) { return add(x[0], x[1]); }, {uniform({2, 9, 5}, 22), uniform({1, 5}, 23)},
           kReduceTol);
}

TEST_F(OpsGpu, MatmulAndLinear) {
  check_op("matmul 2-d", [](auto& x) { return matmul(x[0], x[1]); }, {uniform({13, 17}, 30), uniform({17, 11}, 31)},
           kReduceTol);
  check_op("matmul batched with broadcast", [](auto& x) { return matmul(x[0], x[1]); },
           {uniform({2, 3, 5, 7}, 32), uniform({7, 4}, 33)}, kReduceTol);
  check_op("matmul with a transposed operand", [](auto& x) { return matmul(x[0], x[1].transpose(-1, -2)); },
           {uniform({3, 9, 6}, 34), uniform({3, 10, 6}, 35)}, kReduceTol);
  // Batch dims that no single stride walks: a permuted (B, H) pair.
  check_op("matmul over permuted batch dims", [](auto& x) { return matmul(x[0].permute({1, 0, 2, 3}), x[1]); },
           {uniform({3, 2, 5, 8}, 36), uniform({2, 3, 8, 3}, 37)}, kReduceTol);
  check_op("linear with bias", [](auto& x) { return linear(x[0], x[1], x[2]); },
           {uniform({2, 5, 9}, 38), uniform({7, 9}, 39), uniform({7}, 40)}, kReduceTol);
  check_op("linear without bias", [](auto& x) { return linear(x[0], x[1]); },
           {uniform({11, 16}, 41), uniform({24, 16}, 42)}, kReduceTol);
}

// kernels.tf32 / ops::set_allow_tf32: f32 products on TF32 tensor cores, forward and backward, within
// TF32's rounding (inputs carry 2^-11 relative error, so 2e-3 in relative L2); off again afterwards.
TEST_F(OpsGpu, MatmulAndLinearOnTf32WhenAllowed) {
  set_allow_tf32(true);
  check_op("matmul on tf32", [](auto& x) { return matmul(x[0], x[1]); }, {uniform({3, 33, 40}, 95), uniform({40, 21}, 96)},
           2e-3);
  check_op("linear on tf32", [](auto& x) { return linear(x[0], x[1], x[2]); },
           {uniform({2, 9, 24}, 97), uniform({30, 24}, 98), uniform({30}, 99)}, 2e-3);
  // And it is really TF32: the same product differs from the full-f32 one (inputs are not tf32-exact).
  const Tensor a = uniform({16, 64}, 100).to(kCuda), b = uniform({64, 16}, 101).to(kCuda);
  const Tensor on = matmul(a, b);
  set_allow_tf32(false);
  EXPECT_FALSE(allow_tf32());
  const Tensor off = matmul(a, b);
  EXPECT_GT(test::norm_rel_error(on, off), 1e-6);
}

TEST_F(OpsGpu, SoftmaxAndCrossEntropy) {
  check_op("softmax last dim", [](auto& x) { return softmax(x[0], -1); }, {uniform({6, 51}, 50, -4, 4)},
           kElementwiseTol);
  check_op("softmax middle dim", [](auto& x) { return softmax(x[0], 1); }, {uniform({3, 13, 5}, 51, -4, 4)},
           kElementwiseTol);
  check_op("log_softmax last dim", [](auto& x) { return log_softmax(x[0], -1); }, {uniform({6, 51}, 54, -4, 4)},
           kElementwiseTol);
  check_op("log_softmax first dim", [](auto& x) { return log_softmax(x[0], 0); }, {uniform({9, 4}, 55, -4, 4)},
           kElementwiseTol);
  const Tensor targets = Tensor::from_ints({3, 0, -100, 50, 7, 7, -100, 12, 1}, {9});
  check_op("cross_entropy with ignored rows", [](auto& x) { return cross_entropy(x[0], x[1]); },
           {uniform({9, 51}, 52, -5, 5), targets}, kReduceTol);
  check_op("cross_entropy with i32 targets", [](auto& x) { return cross_entropy(x[0], x[1]); },
           {uniform({4, 17}, 53, -5, 5), Tensor::from_ints({16, 0, 5, 9}, {4}, DType::I32)}, kReduceTol);
}

TEST_F(OpsGpu, EmbeddingNormsRope) {
  const Tensor ids = Tensor::from_ints({4, 0, 4, 12, 3, 4, 9}, {1, 7});
  check_op("embedding with repeated ids", [](auto& x) { return embedding(x[0], x[1]); }, {uniform({13, 10}, 60), ids},
           kReduceTol);
  const Tensor x = uniform({2, 7, 33}, 61, -2, 2);
  check_op("layer_norm", [](auto& v) { return layer_norm(v[0], v[1], v[2], 1e-5f); },
           {x, uniform({33}, 62, 0.5f, 1.5f), uniform({33}, 63)}, kReduceTol);
  check_op("layer_norm without bias", [](auto& v) { return layer_norm(v[0], v[1], Tensor(), 1e-5f); },
           {x, uniform({33}, 64, 0.5f, 1.5f)}, kReduceTol);
  check_op("rms_norm", [](auto& v) { return rms_norm(v[0], v[1], 1e-6f); }, {x, uniform({33}, 65, 0.5f, 1.5f)},
           kReduceTol);
  check_op("rope", [](auto& v) { return rope(v[0], 3, 10000.0f); }, {uniform({2, 3, 5, 8}, 66)}, kElementwiseTol);
  check_op("rope on a transposed projection", [](auto& v) { return rope(v[0].transpose(1, 2), 0, 500.0f); },
           {uniform({2, 5, 3, 6}, 67)}, kElementwiseTol);
}

TEST_F(OpsGpu, Attention) {
  check_op("causal, grouped-query heads", [](auto& x) { return scaled_dot_product_attention(x[0], x[1], x[2]); },
           {uniform({2, 4, 7, 8}, 70), uniform({2, 2, 7, 8}, 71), uniform({2, 2, 7, 8}, 72)}, kReduceTol);
  check_op("full (not causal)",
           [](auto& x) { return scaled_dot_product_attention(x[0], x[1], x[2], /*causal=*/false, 0.3f); },
           {uniform({1, 3, 5, 12}, 73), uniform({1, 3, 9, 12}, 74), uniform({1, 3, 9, 12}, 75)}, kReduceTol);
  check_op("causal with a KV cache (S > T)",
           [](auto& x) { return scaled_dot_product_attention(x[0], x[1], x[2]); },
           {uniform({1, 2, 3, 16}, 76), uniform({1, 1, 10, 16}, 77), uniform({1, 1, 10, 16}, 78)}, kReduceTol);
  check_op("head dim 64, as the models use",
           [](auto& x) { return scaled_dot_product_attention(x[0], x[1], x[2]); },
           {uniform({1, 2, 33, 64}, 79), uniform({1, 2, 33, 64}, 80), uniform({1, 2, 33, 64}, 81)}, kReduceTol);
}

// GPT-2's attention: q, k and v are column slices of one fused projection, viewed as heads, so
// every backward step (attention, transpose, reshape, three slice gradients summed) meets strided tensors.
TEST_F(OpsGpu, AttentionOnSlicesOfAFusedProjection) {
  check_op("q, k, v sliced from one (B, T, 3C) tensor",
           [](auto& x) {
             const int64_t B = 2, T = 5, H = 2, D = 4, C = H * D;
             auto head = [&](int i) { return x[0].slice(2, i * C, (i + 1) * C).reshape({B, T, H, D}).transpose(1, 2); };
             Tensor y = scaled_dot_product_attention(head(0), head(1), head(2));
             return y.transpose(1, 2).reshape({B, T, C});
           },
           {uniform({2, 5, 24}, 82)}, kReduceTol);
}

TEST_F(OpsGpu, DropoutDropsTheSameElementsAsTheCpu) {
  // A fresh generator with the same seed on each side: same Philox counters, same mask.
  check_op("dropout",
           [](auto& x) {
             Generator gen(1234);
             return dropout(x[0], 0.3f, gen);
           },
           {uniform({5, 77}, 90)}, kElementwiseTol);
}

TEST_F(OpsGpu, ShapeCopyAndCastOps) {
  check_op("concat", [](auto& x) { return concat({x[0], x[1]}, 1); }, {uniform({2, 3, 4}, 100), uniform({2, 5, 4}, 101)},
           0.0);
  check_op("split then mul", [](auto& x) {
    auto parts = split(x[0], {2, 5}, 1);
    return mul(parts[1].slice(1, 0, 2), parts[0]);
  }, {uniform({3, 7}, 102)}, kElementwiseTol);
  check_op("contiguous of a permuted view", [](auto& x) { return contiguous(x[0].permute({2, 0, 1})); },
           {uniform({3, 4, 5}, 103)}, 0.0);
  check_op("to bf16 and back", [](auto& x) { return to_dtype(to_dtype(x[0], DType::BF16), DType::F32); },
           {uniform({7, 9}, 104)}, 0.0);

  // In-place helpers, not differentiable: strided destinations included.
  Tensor base_cpu = uniform({4, 6}, 105), src = uniform({6, 4}, 106);
  Tensor base_gpu = base_cpu.to(kCuda);
  Tensor dst_cpu = base_cpu.transpose(0, 1), dst_gpu = base_gpu.transpose(0, 1);
  add_(dst_cpu, src, 0.5f);
  add_(dst_gpu, src.to(kCuda), 0.5f);
  EXPECT_LT(test::norm_rel_error(base_gpu, base_cpu), kElementwiseTol) << "add_ into a transposed view";
  mul_(dst_cpu, 3.0f);
  mul_(dst_gpu, 3.0f);
  EXPECT_LT(test::norm_rel_error(base_gpu, base_cpu), kElementwiseTol) << "mul_ of a transposed view";
  Tensor col_cpu = base_cpu.slice(1, 2, 3), col_gpu = base_gpu.slice(1, 2, 3);
  fill_(col_cpu, 2.5f);
  fill_(col_gpu, 2.5f);
  EXPECT_LE(test::norm_rel_error(base_gpu, base_cpu), kElementwiseTol) << "fill_ of a column";
  copy_(dst_cpu, src);
  copy_(dst_gpu, src);
  EXPECT_EQ(base_gpu.to_f32_vector(), base_cpu.to_f32_vector()) << "copy_ into a transposed view";
  Tensor ints = Tensor::full({5}, 7.0f, DType::I64, kCuda);
  EXPECT_EQ(ints.to_i64_vector(), std::vector<int64_t>(5, 7)) << "fill_ of an integer tensor";
}

TEST_F(OpsGpu, Bf16InputsComputeLikeTheCpu) {
  // bf16 tensors: the CPU computes in f32 and rounds once; the CUDA kernels do the same (the GEMM
  // takes the tensor-core path when the shape allows, which rounds its products differently).
  const Tensor a = uniform({3, 16, 32}, 110).to(DType::BF16), b = uniform({32, 24}, 111).to(DType::BF16);
  check_op("bf16 add", [](auto& x) { return add(x[0], x[1]); }, {a, uniform({32}, 112).to(DType::BF16)}, 1e-2);
  check_op("bf16 matmul", [](auto& x) { return matmul(x[0], x[1]); }, {a, b}, 1e-2);
  check_op("bf16 gelu", [](auto& x) { return gelu(x[0]); }, {a}, 1e-2);
  // bf16 attention with head dim 64 takes the flash kernels (grouped-query heads, causal).
  check_op("bf16 flash attention", [](auto& x) { return scaled_dot_product_attention(x[0], x[1], x[2]); },
           {uniform({2, 4, 37, 64}, 113).to(DType::BF16), uniform({2, 2, 37, 64}, 114).to(DType::BF16),
            uniform({2, 2, 37, 64}, 115).to(DType::BF16)},
           2e-2);
}

}  // namespace
}  // namespace anvil::ops
