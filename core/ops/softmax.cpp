// softmax and log_softmax over any dim. The input is made a contiguous f32 (outer, n, inner) block;
// inner == 1 (the last dim) takes the kernel's contiguous-row fast path. Backward needs only the
// forward output y (kept in f32), never the input.
#include "core/ops/op_utils.h"
#include "kernels/cpu/softmax.h"

namespace anvil::ops {

using namespace detail;

namespace {

Tensor softmax_impl(const Tensor& a, int64_t dim, bool log) {
  const char* name = log ? "log_softmax" : "softmax";
  check_floating(a, name, "a");
  check_cpu(a, name);
  ANVIL_CHECK_OP(a.dim() >= 1, "[", name, "] needs at least one dim, got ", a.str());
  const int64_t d = normalize_dim(dim, a.dim(), name);
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
