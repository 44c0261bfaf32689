// softmax and log_softmax over any dim. CPU: the input is made a contiguous f32 (outer, n, inner)
// block; inner == 1 (the last dim) takes the kernel's contiguous-row fast path. Backward needs only
// the forward output y (kept in f32), never the input. CUDA: see softmax_cuda / log_softmax_cuda.
#include "core/ops/op_utils.h"
#include "kernels/cpu/softmax.h"
#include "kernels/cuda/softmax.h"

namespace anvil::ops {

using namespace detail;

namespace {

// softmax over dim d of a CUDA tensor: the kernel works on contiguous rows, so d is swapped to the
// last dim and back (log_softmax_cuda below composes wired ops instead).
Tensor softmax_cuda(const Tensor& a, int64_t d) {
  const int64_t last = a.dim() - 1;
  auto to_rows = [d, last](const Tensor& t) { return d == last ? t : t.transpose(d, last); };
  Tensor x = f32_contiguous(to_rows(a.detach()));  // (rows, n), dim d last
  const int64_t n = a.shape()[size_t(d)], rows = n > 0 ? a.numel() / n : 0;
  Tensor y = Tensor::empty(x.shape(), DType::F32, a.device());
  if (a.numel() > 0) kernels::cuda::softmax_forward(DType::F32, x.data<float>(), y.data<float>(), rows, n, cuda_stream(a));
  const DType dtype = a.dtype();
  Tensor out = cast_result(to_rows(y).contiguous(), dtype);
  if (!any_requires_grad({&a})) return out;
  return record_op("SoftmaxBackward", {a}, out, [y, rows, n, to_rows, dtype](const Tensor& g, const std::vector<bool>&) {
    Tensor gy = f32_contiguous(to_rows(g));
    Tensor gx = Tensor::empty(y.shape(), DType::F32, y.device());
    if (y.numel() > 0)
      kernels::cuda::softmax_backward(DType::F32, y.data<float>(), gy.data<float>(), gx.data<float>(), rows, n,
                                      cuda_stream(y));
    return std::vector<Tensor>{cast_result(to_rows(gx).contiguous(), dtype)};
  });
}

// log_softmax over dim d of a CUDA tensor, composed from wired ops in f32:
// x - m - log(sum(exp(x - m))), with m the (detached) max over d. The value does not depend on m,
// so neither does the gradient; autograd through the composed ops gives dx = g - softmax * sum(g).
Tensor log_softmax_cuda(const Tensor& a, int64_t d) {
  Tensor x = a.dtype() == DType::F32 ? a : to_dtype(a, DType::F32);
  Tensor m = max(x.detach(), d, /*keepdim=*/true);
  Tensor shifted = sub(x, m);
  Tensor out = sub(shifted, log(sum(exp(shifted), {d}, /*keepdim=*/true)));
  return a.dtype() == DType::F32 ? out : to_dtype(out, a.dtype());
}

Tensor softmax_impl(const Tensor& a, int64_t dim, bool log) {
  const char* name = log ? "log_softmax" : "softmax";
  check_floating(a, name, "a");
  ANVIL_CHECK_OP(a.dim() >= 1, "[", name, "] needs at least one dim, got ", a.str());
  const int64_t d = normalize_dim(dim, a.dim(), name);
  if (a.device().is_cuda()) return log ? log_softmax_cuda(a, d) : softmax_cuda(a, d);
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < d; ++i) outer *= a.shape()[size_t(i)];
  for (int64_t i = d + 1; i < a.dim(); ++i) inner *= a.shape()[size_t(i)];
  const int64_t n = a.shape()[size_t(d)];
  Tensor x = f32_contiguous(a);                       // (outer, n, inner)
  Tensor y = Tensor::empty(a.shape(), DType::F32);    // (outer, n, inner)
  kernels::cpu::softmax_forward_f32(x.data<float>(), y.data<float>(), outer, n, inner, log);
  const DType dtype = a.dtype();
  Tensor out = cast_result(y, dtype);
  if (!any_requires_grad({&a})) return out;
  return record_op(log ? "LogSoftmaxBackward" : "SoftmaxBackward", {a}, out,
                   [y, outer, n, inner, log, dtype](const Tensor& g, const std::vector<bool>&) {
                     Tensor gy = f32_contiguous(g);
                     Tensor gx = Tensor::empty(y.shape(), DType::F32);
                     kernels::cpu::softmax_backward_f32(y.data<float>(), gy.data<float>(), gx.data<float>(), outer,
                                                        n, inner, log);
                     return std::vector<Tensor>{cast_result(gx, dtype)};
                   });
}

}  // namespace

Tensor softmax(const Tensor& a, int64_t dim) { return softmax_impl(a, dim, /*log=*/false); }
Tensor log_softmax(const Tensor& a, int64_t dim) { return softmax_impl(a, dim, /*log=*/true); }

}  // namespace anvil::ops
