// matmul (batched, broadcasting batch dims) and linear (nn.Linear's x @ W^T + b).
// Transposed and strided operands are passed to the GEMM by stride, never copied, when their
// last two dims have a unit stride on one side.
#include "core/ops/op_utils.h"
#include "kernels/cpu/matmul.h"

namespace anvil::ops {

using namespace detail;

namespace {

// An f32 operand readable by gemm_f32: its matrices have one unit stride (row- or column-major).
Tensor gemm_operand(const Tensor& t) {
  Tensor f = t.dtype() == DType::F32 ? t.detach() : f32_contiguous(t);
  const int64_t n = f.dim();
  const int64_t rs = f.strides()[size_t(n - 2)], cs = f.strides()[size_t(n - 1)];
  bool row_major = cs == 1 || f.shape()[size_t(n - 1)] == 1;
  bool col_major = rs == 1 || f.shape()[size_t(n - 2)] == 1;
  if (!row_major && !col_major) f = f.contiguous();
  return f;
}

// out (..., M, N) = a (..., M, K) @ b (..., K, N) on f32 operands, batch dims already broadcast.
void batched_gemm(const Tensor& a, const Tensor& b, Tensor& out) {
  const int64_t nd = out.dim();
  const int64_t M = out.size(-2), N = out.size(-1), K = a.size(-1);
  int64_t batch = 1;
  for (int64_t i = 0; i < nd - 2; ++i) batch *= out.shape()[size_t(i)];
  const float* ap = a.data<float>();
  const float* bp = b.data<float>();
  float* op = out.data<float>();
  for (int64_t bi = 0; bi < batch; ++bi) {
    int64_t rem = bi, ao = 0, bo = 0;
    for (int64_t d = nd - 3; d >= 0; --d) {
      int64_t idx = rem % out.shape()[size_t(d)];
      rem /= out.shape()[size_t(d)];
      ao += idx * a.strides()[size_t(d)];
      bo += idx * b.strides()[size_t(d)];
    }
    kernels::cpu::gemm_f32(M, N, K, ap + ao, a.strides()[size_t(nd - 2)], a.strides()[size_t(nd - 1)], bp + bo,
                           b.strides()[size_t(nd - 2)], b.strides()[size_t(nd - 1)], op + bi * M * N, N,
                           /*accumulate=*/false);
  }
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_floating(a, "matmul", "a");
  check_floating(b, "matmul", "b");
  check_same_device(a, b, "matmul");
  check_cpu(a, "matmul");
  ANVIL_CHECK_OP(a.dim() >= 2 && b.dim() >= 2, "[matmul] needs 2-d or batched operands, got ", a.str(), " @ ",
                 b.str());
  ANVIL_CHECK_OP(a.size(-1) == b.size(-2), "[matmul] inner dimensions differ: ", a.str(), " @ ", b.str());
  Shape a_batch(a.shape().begin(), a.shape().end() - 2), b_batch(b.shape().begin(), b.shape().end() - 2);
  Shape batch = broadcast_shapes(a_batch, b_batch, "matmul");
  Shape a_full = batch, b_full = batch, out_shape = batch;
  a_full.insert(a_full.end(), {a.size(-2), a.size(-1)});
  b_full.insert(b_full.end(), {b.size(-2), b.size(-1)});
  out_shape.insert(out_shape.end(), {a.size(-2), b.size(-1)});
  Tensor ae = gemm_operand(a).expand(a_full);
  Tensor be = gemm_operand(b).expand(b_full);
  Tensor out = Tensor::empty(out_shape, DType::F32);
  batched_gemm(ae, be, out);
  Tensor ad = a.detach(), bd = b.detach();
  return record_op("MatmulBackward", {a, b}, cast_result(out, a.dtype()),
                   [ad, bd](const Tensor& g, const std::vector<bool>& needs) {
                     Tensor ga, gb;
                     if (needs[0]) ga = sum_to_shape(matmul(g, bd.transpose(-1, -2)), ad.shape());
                     if (needs[1]) gb = sum_to_shape(matmul(ad.transpose(-1, -2), g), bd.shape());
                     return std::vector<Tensor>{ga, gb};
                   });
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_floating(x, "linear", "x");
  check_floating(weight, "linear", "weight");
  check_same_device(x, weight, "linear");
  check_cpu(x, "linear");
  ANVIL_CHECK_OP(weight.dim() == 2 && x.dim() >= 1 && x.size(-1) == weight.size(1), "[linear] x ", x.str(),
                 " does not match weight ", weight.str(), " (expected x (..., in) and weight (out, in))");
  const int64_t in = weight.size(1), out_f = weight.size(0);
  ANVIL_CHECK_OP(!bias.defined() || (bias.dim() == 1 && bias.size(0) == out_f), "[linear] bias ", bias.str(),
                 " does not match weight ", weight.str());
  Shape out_shape = x.shape();
  out_shape.back() = out_f;
  const int64_t rows = x.numel() / std::max<int64_t>(in, 1);
  Tensor x2 = gemm_operand(x.detach().reshape({rows, in}));
  Tensor w = gemm_operand(weight);
  Tensor out = Tensor::empty({rows, out_f}, DType::F32);
  if (bias.defined()) {
    // Start from the broadcast bias and accumulate the product onto it.
    Tensor bf = f32_contiguous(bias);
    for (int64_t r = 0; r < rows; ++r)
      std::copy(bf.data<float>(), bf.data<float>() + out_f, out.data<float>() + r * out_f);
  }
  // x (rows, in) @ W^T (in, out): W^T read in place through W's strides.
  kernels::cpu::gemm_f32(rows, out_f, in, x2.data<float>(), x2.strides()[0], x2.strides()[1], w.data<float>(),
                         w.strides()[1], w.strides()[0], out.data<float>(), out_f, /*accumulate=*/bias.defined());
  Tensor result = cast_result(out, x.dtype()).view(out_shape);
  Tensor xd = x.detach(), wd = weight.detach();
  const bool has_bias = bias.defined();
  return record_op("LinearBackward", {x, weight, bias}, result,
                   [xd, wd, has_bias, rows, in, out_f](const Tensor& g, const std::vector<bool>& needs) {
                     Tensor g2 = g.reshape({rows, out_f});
                     Tensor gx, gw, gb;
                     if (needs[0]) gx = matmul(g2, wd).reshape(xd.shape());
                     if (needs[1]) gw = matmul(g2.transpose(0, 1), xd.reshape({rows, in}));
                     if (has_bias && needs[2]) gb = sum(g2, {0});
                     return std::vector<Tensor>{gx, gw, gb};
                   });
}

}  // namespace anvil::ops
