// Reductions: sum and mean over dims (or all), max over one dim.
// Multi-dim sums reduce one dim at a time over a contiguous (outer, n, inner) view.
#include <algorithm>
#include <set>

#include "core/ops/op_utils.h"
#include "kernels/cpu/reduce.h"
#include "kernels/cuda/reduce.h"

namespace anvil::ops {

using namespace detail;

namespace {

void outer_n_inner(const Shape& s, int64_t d, int64_t* outer, int64_t* n, int64_t* inner) {
  *outer = 1;
  *inner = 1;
  for (int64_t i = 0; i < d; ++i) *outer *= s[size_t(i)];
  *n = s[size_t(d)];
  for (size_t i = size_t(d) + 1; i < s.size(); ++i) *inner *= s[i];
}

std::set<int64_t> normalize_dims(const std::vector<int64_t>& dims, int64_t ndim, const char* op) {
  std::set<int64_t> out;
  for (int64_t d : dims) {
    int64_t nd = normalize_dim(d, ndim, op);
    ANVIL_CHECK_OP(out.insert(nd).second, "[", op, "] dim ", d, " repeated");
  }
  return out;
}

// Sum over `dims` keeping them as size 1 (no graph).
Tensor sum_keepdim_forward(const Tensor& a, const std::set<int64_t>& dims) {
  Tensor cur = f32_contiguous(a);
  for (int64_t d : dims) {
    int64_t outer, n, inner;
    outer_n_inner(cur.shape(), d, &outer, &n, &inner);
    Shape s = cur.shape();
    s[size_t(d)] = 1;
    Tensor next = Tensor::empty(s, DType::F32, a.device());
    if (a.device().is_cuda()) {
      kernels::cuda::sum_dim_f32(cur.data<float>(), outer, n, inner, next.data<float>(), cuda_stream(a));
    } else {
      kernels::cpu::sum_dim_f32(cur.data<float>(), outer, n, inner, next.data<float>());
    }
    cur = next;
  }
  return cur;
}

Shape drop_dims(const Shape& s, const std::set<int64_t>& dims) {
  Shape out;
  for (size_t i = 0; i < s.size(); ++i)
    if (!dims.count(int64_t(i))) out.push_back(s[i]);
  return out;
}

}  // namespace

Tensor sum(const Tensor& a, const std::vector<int64_t>& dims_in, bool keepdim) {
  check_floating(a, "sum", "a");
  std::set<int64_t> dims = normalize_dims(dims_in, a.dim(), "sum");
  Tensor r = sum_keepdim_forward(a, dims);
  Shape keep_shape = r.shape();
  if (!keepdim) r = r.view(drop_dims(r.shape(), dims));
  Tensor out = cast_result(r, a.dtype());
  Shape in_shape = a.shape();
  return record_op("SumBackward", {a}, out, [in_shape, keep_shape](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{g.reshape(keep_shape).expand(in_shape).contiguous()};
  });
}

Tensor sum(const Tensor& a) {
  std::vector<int64_t> all(size_t(a.dim()));
  for (int64_t i = 0; i < a.dim(); ++i) all[size_t(i)] = i;
  if (all.empty()) return a.clone();
  return sum(a, all, false);
}

Tensor mean(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  int64_t count = 1;
  for (int64_t d : normalize_dims(dims, a.dim(), "mean")) count *= a.shape()[size_t(d)];
  ANVIL_CHECK_OP(count > 0, "[mean] of an empty selection in ", a.str());
  return mul_scalar(sum(a, dims, keepdim), 1.0f / float(count));
}

Tensor mean(const Tensor& a) {
  ANVIL_CHECK_OP(a.numel() > 0, "[mean] of an empty tensor ", a.str());
  return mul_scalar(sum(a), 1.0f / float(a.numel()));
}

Tensor max(const Tensor& a, int64_t dim, bool keepdim) {
  check_floating(a, "max", "a");
  int64_t d = normalize_dim(dim, a.dim(), "max");
  ANVIL_CHECK_OP(a.shape()[size_t(d)] > 0, "[max] over an empty dim of ", a.str());
  Tensor af = f32_contiguous(a);
  int64_t outer, n, inner;
  outer_n_inner(a.shape(), d, &outer, &n, &inner);
  Shape keep_shape = a.shape();
  keep_shape[size_t(d)] = 1;
  const Device dev = a.device();
  Tensor values = Tensor::empty(keep_shape, DType::F32, dev);
  Tensor argmax = Tensor::empty(keep_shape, DType::I64, dev);
  if (dev.is_cuda()) {
    kernels::cuda::max_dim_f32(af.data<float>(), outer, n, inner, values.data<float>(), argmax.data<int64_t>(),
                               cuda_stream(a));
  } else {
    kernels::cpu::max_dim_f32(af.data<float>(), outer, n, inner, values.data<float>(), argmax.data<int64_t>());
  }
  Tensor out = keepdim ? values : values.view(drop_dims(keep_shape, {d}));
  Shape in_shape = a.shape();
  DType dt = a.dtype();
  return record_op("MaxBackward", {a}, cast_result(out, dt),
                   [=](const Tensor& g, const std::vector<bool>&) {
                     Tensor gf = f32_contiguous(g);
                     Tensor gi = Tensor::empty(in_shape, DType::F32, dev);
                     if (dev.is_cuda()) {
                       kernels::cuda::max_dim_backward_f32(gf.data<float>(), argmax.data<int64_t>(), outer, n, inner,
                                                           gi.data<float>(), cuda_stream(gi));
                     } else {
                       kernels::cpu::max_dim_backward_f32(gf.data<float>(), argmax.data<int64_t>(), outer, n, inner,
                                                          gi.data<float>());
                     }
                     return std::vector<Tensor>{cast_result(gi, dt)};
                   });
}

}  // namespace anvil::ops
