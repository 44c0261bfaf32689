#include "core/ops/op_utils.h"

#include "kernels/cuda/stream.h"

namespace anvil::ops::detail {

int64_t normalize_dim(int64_t dim, int64_t ndim, std::string_view op) {
  int64_t d = dim < 0 ? dim + ndim : dim;
  ANVIL_CHECK_OP(d >= 0 && d < ndim, "[", op, "] dim ", dim, " out of range for a ", ndim, "-d tensor");
  return d;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, std::string_view op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    ANVIL_CHECK_OP(da == db || da == 1 || db == 1, "[", op, "] shapes ", shape_str(a), " and ", shape_str(b),
                   " do not broadcast");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

void check_floating(const Tensor& t, std::string_view op, std::string_view arg) {
  ANVIL_CHECK_OP(t.defined(), "[", op, "] ", arg, " is undefined");
  ANVIL_CHECK_OP(is_floating(t.dtype()), "[", op, "] ", arg, " must be a floating tensor, got ", t.str());
}

void check_index(const Tensor& t, std::string_view op, std::string_view arg) {
  ANVIL_CHECK_OP(t.defined(), "[", op, "] ", arg, " is undefined");
  ANVIL_CHECK_OP(t.dtype() == DType::I32 || t.dtype() == DType::I64, "[", op, "] ", arg,
                 " must be an i32 or i64 tensor, got ", t.str());
}

void check_same_device(const Tensor& a, const Tensor& b, std::string_view op) {
  ANVIL_CHECK_OP(a.device() == b.device(), "[", op, "] tensors on different devices: ", a.str(), " and ", b.str());
}

void check_cpu(const Tensor& t, std::string_view op) {
  ANVIL_CHECK_OP(t.device().is_cpu(), "[", op, "] has no CUDA kernel in this build; got ", t.str());
}

void* cuda_stream(const Tensor& t) {
  ANVIL_ASSERT(t.device().is_cuda(), "cuda_stream of a ", t.str(), " tensor");
  return kernels::cuda::default_stream(t.device().index);
}

Tensor f32_contiguous(const Tensor& t) {
  Tensor c = t.detach();
  if (!c.is_contiguous()) c = c.contiguous();
  if (c.dtype() != DType::F32) c = c.to(DType::F32);
  return c;
}

Tensor cast_result(const Tensor& r, DType dtype) { return r.dtype() == dtype ? r : r.detach().to(dtype); }

}  // namespace anvil::ops::detail
