// matmul (batched, broadcasting batch dims) and linear (nn.Linear's x @ W^T + b).
// Transposed and strided operands are passed to the GEMM by stride, never copied, when their
// last two dims have a unit stride on one side.
#include <atomic>

#include "core/ops/op_utils.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cuda/matmul.h"

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

// ---- CUDA ----------------------------------------------------------------------------------------

// How the GEMM reads the matrices (last two dims, rows x cols) of `t`: row-major with leading
// dimension ld, or column-major ("transposed" in GemmArgs terms), when one side has unit stride
// and the other spans a full row/column. size-1 dims make either stride irrelevant.
bool cuda_layout(const Tensor& t, bool* transposed, int64_t* ld) {
  const int64_t rows = t.size(-2), cols = t.size(-1);
  const int64_t rs = t.strides()[size_t(t.dim() - 2)], cs = t.strides()[size_t(t.dim() - 1)];
  if ((cs == 1 || cols == 1) && (rows == 1 || rs >= cols)) {
    *transposed = false;
    *ld = rows == 1 ? std::max<int64_t>(cols, 1) : rs;
    return true;
  }
  if ((rs == 1 || rows == 1) && (cols == 1 || cs >= rows)) {
    *transposed = true;
    *ld = cols == 1 ? std::max<int64_t>(rows, 1) : cs;
    return true;
  }
  return false;
}

// An operand of dtype dt the CUDA GEMM can read in place (converted or made contiguous if not).
Tensor cuda_gemm_operand(const Tensor& t, DType dt) {
  Tensor f = t.dtype() == dt ? t.detach() : t.detach().to(dt);
  bool tr;
  int64_t ld;
  if (!cuda_layout(f, &tr, &ld)) f = f.contiguous();
  return f;
}

constexpr int64_t kMaxGemmBatch = 65535;  // kernels/cuda/gemm's grid limit on the batch

// The one stride that walks the flattened batch dims [0, nb) of t, if there is one.
bool single_batch_stride(const Tensor& t, int64_t nb, int64_t* stride) {
  int64_t inner_stride = 0, inner_extent = 0;
  bool first = true;
  for (int64_t d = nb - 1; d >= 0; --d) {
    const int64_t ext = t.shape()[size_t(d)], st = t.strides()[size_t(d)];
    if (ext == 1) continue;
    if (first) {
      *stride = st;
      first = false;
    } else if (st != inner_stride * inner_extent) {
      return false;
    }
    inner_stride = st;
    inner_extent = ext;
  }
  if (first) *stride = 0;
  return true;
}

std::atomic<bool> g_allow_tf32{false};

// out (..., M, N) f32 contiguous = a (..., M, K) @ b (..., K, N) [+ bias (N) f32], batch dims of
// a and b already broadcast to out's. Both operands share `dt` and have a cuda_layout.
void cuda_batched_gemm(const Tensor& a, const Tensor& b, DType dt, Tensor& out, const Tensor& bias) {
  const int64_t nd = out.dim(), nb = nd - 2;
  kernels::cuda::GemmArgs g;
  g.M = out.size(-2);
  g.N = out.size(-1);
  g.K = a.size(-1);
  g.input_dtype = dt;
  g.allow_tf32 = dt == DType::F32 && g_allow_tf32.load(std::memory_order_relaxed);
  cuda_layout(a, &g.a_transposed, &g.lda);
  cuda_layout(b, &g.b_transposed, &g.ldb);
  g.ldc = g.N;
  g.output_dtype = DType::F32;
  if (bias.defined()) {
    g.epilogue = kernels::cuda::GemmEpilogue::Bias;
    g.bias = bias.data<float>();
  }
  g.stream = cuda_stream(out);
  int64_t batch = 1;
  for (int64_t i = 0; i < nb; ++i) batch *= out.shape()[size_t(i)];
  if (out.numel() == 0) return;
  const int64_t esz = dtype_size(dt);
  int64_t sa = 0, sb = 0;
  if (single_batch_stride(a, nb, &sa) && single_batch_stride(b, nb, &sb)) {
    g.batch_stride_a = sa;
    g.batch_stride_b = sb;
    g.batch_stride_c = g.M * g.N;
    // The GEMM grid holds at most kMaxGemmBatch matrices per launch.
    for (int64_t first = 0; first < batch; first += kMaxGemmBatch) {
      g.A = static_cast<const char*>(a.data_ptr()) + first * sa * esz;
      g.B = static_cast<const char*>(b.data_ptr()) + first * sb * esz;
      g.C = out.data<float>() + first * g.M * g.N;
      g.batch = std::min(kMaxGemmBatch, batch - first);
      kernels::cuda::gemm(g);
    }
    return;
  }
  // Batch layouts no single stride describes: one GEMM per matrix.
  for (int64_t bi = 0; bi < batch; ++bi) {
    int64_t rem = bi, ao = 0, bo = 0;
    for (int64_t d = nb - 1; d >= 0; --d) {
      const int64_t idx = rem % out.shape()[size_t(d)];
      rem /= out.shape()[size_t(d)];
      ao += idx * a.strides()[size_t(d)];
      bo += idx * b.strides()[size_t(d)];
    }
    g.A = static_cast<const char*>(a.data_ptr()) + ao * esz;
    g.B = static_cast<const char*>(b.data_ptr()) + bo * esz;
    g.C = out.data<float>() + bi * g.M * g.N;
    g.batch = 1;
    kernels::cuda::gemm(g);
  }
}

// x (rows, in) @ W^T + bias on the CPU, f32 compute, in x's dtype, shaped out_shape.
Tensor linear_cpu(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t rows, int64_t in,
                  int64_t out_f, const Shape& out_shape) {
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
  return cast_result(out, x.dtype()).view(out_shape);
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_floating(a, "matmul", "a");
  check_floating(b, "matmul", "b");
  check_same_device(a, b, "matmul");
  ANVIL_CHECK_OP(a.dim() >= 2 && b.dim() >= 2, "[matmul] needs 2-d or batched operands, got ", a.str(), " @ ",
                 b.str());
  ANVIL_CHECK_OP(a.size(-1) == b.size(-2), "[matmul] inner dimensions differ: ", a.str(), " @ ", b.str());
  Shape a_batch(a.shape().begin(), a.shape().end() - 2), b_batch(b.shape().begin(), b.shape().end() - 2);
  Shape batch = broadcast_shapes(a_batch, b_batch, "matmul");
  Shape a_full = batch, b_full = batch, out_shape = batch;
  a_full.insert(a_full.end(), {a.size(-2), a.size(-1)});
  b_full.insert(b_full.end(), {b.size(-2), b.size(-1)});
  out_shape.insert(out_shape.end(), {a.size(-2), b.size(-1)});
  Tensor out = Tensor::empty(out_shape, DType::F32, a.device());
  if (a.device().is_cuda()) {
    // Same dtypes feed the GEMM as they are (bf16/f16 take the tensor cores); mixed ones go f32.
    const DType dt = a.dtype() == b.dtype() ? a.dtype() : DType::F32;
    Tensor ae = cuda_gemm_operand(a, dt).expand(a_full);
    Tensor be = cuda_gemm_operand(b, dt).expand(b_full);
    cuda_batched_gemm(ae, be, dt, out, Tensor());
  } else {
    Tensor ae = gemm_operand(a).expand(a_full);
    Tensor be = gemm_operand(b).expand(b_full);
    batched_gemm(ae, be, out);
  }
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
  ANVIL_CHECK_OP(weight.dim() == 2 && x.dim() >= 1 && x.size(-1) == weight.size(1), "[linear] x ", x.str(),
                 " does not match weight ", weight.str(), " (expected x (..., in) and weight (out, in))");
  const int64_t in = weight.size(1), out_f = weight.size(0);
  ANVIL_CHECK_OP(!bias.defined() || (bias.dim() == 1 && bias.size(0) == out_f), "[linear] bias ", bias.str(),
                 " does not match weight ", weight.str());
  Shape out_shape = x.shape();
  out_shape.back() = out_f;
  const int64_t rows = x.numel() / std::max<int64_t>(in, 1);
  Tensor result;
  if (x.device().is_cuda()) {
    if (bias.defined()) check_same_device(x, bias, "linear");
    const DType dt = x.dtype() == weight.dtype() ? x.dtype() : DType::F32;
    Tensor x2 = cuda_gemm_operand(x.detach().reshape({rows, in}), dt);  // (rows, in)
    Tensor wt = cuda_gemm_operand(weight.detach().transpose(0, 1), dt);  // (in, out): W^T read in place
    Tensor bf = bias.defined() ? f32_contiguous(bias) : Tensor();
    Tensor out = Tensor::empty({rows, out_f}, DType::F32, x.device());
    cuda_batched_gemm(x2, wt, dt, out, bf);
    result = cast_result(out, x.dtype()).view(out_shape);
  } else {
    result = linear_cpu(x, weight, bias, rows, in, out_f, out_shape);
  }
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

void set_allow_tf32(bool allow) { g_allow_tf32.store(allow, std::memory_order_relaxed); }
bool allow_tf32() { return g_allow_tf32.load(std::memory_order_relaxed); }

}  // namespace anvil::ops
