// concat and split along one dim.
// concat copies each input, in its own dtype, into its band of a fresh output (one block copy per
// input over the (outer, size_d * inner) layout); backward hands each input the matching slice of
// the gradient. split returns slices (views sharing x's storage), each differentiable through
// Tensor::slice, so it costs no copy.
#include "core/ops/op_utils.h"
#include "kernels/cpu/shape.h"

namespace anvil::ops {

using namespace detail;

Tensor concat(const std::vector<Tensor>& tensors, int64_t dim) {
  ANVIL_CHECK_OP(!tensors.empty(), "[concat] needs at least one tensor");
  const Tensor& first = tensors[0];
  ANVIL_CHECK_OP(first.defined(), "[concat] tensor 0 is undefined");
  ANVIL_CHECK_OP(first.dim() >= 1, "[concat] cannot concatenate 0-d tensors, got ", first.str());
  const int64_t d = normalize_dim(dim, first.dim(), "concat");
  Shape out_shape = first.shape();
  out_shape[size_t(d)] = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    ANVIL_CHECK_OP(t.defined(), "[concat] tensor ", i, " is undefined");
    check_same_device(t, first, "concat");
    ANVIL_CHECK_OP(t.dtype() == first.dtype(), "[concat] tensor ", i, " is ", t.str(), " but tensor 0 is ",
                   first.str(), " (dtypes must match)");
    bool same_other_dims = t.dim() == first.dim();
    for (int64_t k = 0; same_other_dims && k < t.dim(); ++k)
      same_other_dims = k == d || t.shape()[size_t(k)] == first.shape()[size_t(k)];
    ANVIL_CHECK_OP(same_other_dims, "[concat] tensor ", i, " has shape ", shape_str(t.shape()),
                   " but tensor 0 has ", shape_str(first.shape()), "; they may differ only in dim ", d);
    out_shape[size_t(d)] += t.shape()[size_t(d)];
  }

  int64_t outer = 1, inner = 1;
  for (int64_t k = 0; k < d; ++k) outer *= out_shape[size_t(k)];
  for (size_t k = size_t(d) + 1; k < out_shape.size(); ++k) inner *= out_shape[k];
  const int64_t elem = dtype_size(first.dtype());
  Tensor out = Tensor::empty(out_shape, first.dtype(), first.device());  // (outer, total_d, inner)
  auto* dst = static_cast<char*>(out.data_ptr());
  const int64_t dst_stride = out_shape[size_t(d)] * inner * elem;
  std::vector<int64_t> starts;  // where each input begins along d
  int64_t pos = 0;
  for (const Tensor& t : tensors) {
    starts.push_back(pos);
    const int64_t size_d = t.shape()[size_t(d)];
    if (size_d > 0 && outer > 0 && inner > 0 && first.device().is_cuda()) {
      Tensor band = out.slice(d, pos, pos + size_d);  // a strided view of out's band for t
      copy_(band, t.detach());
    } else if (size_d > 0 && outer > 0 && inner > 0) {
      Tensor src = t.detach().contiguous();  // (outer, size_d, inner)
      kernels::cpu::copy_blocks(src.data_ptr(), size_d * inner * elem, outer, dst + pos * inner * elem, dst_stride);
    }
    pos += size_d;
  }
  if (!is_floating(first.dtype())) return out;
  std::vector<int64_t> sizes;
  for (const Tensor& t : tensors) sizes.push_back(t.shape()[size_t(d)]);
  return record_op("ConcatBackward", tensors, out,
                   [d, starts, sizes](const Tensor& g, const std::vector<bool>& needs) {
                     std::vector<Tensor> grads(sizes.size());
                     for (size_t i = 0; i < sizes.size(); ++i)
                       if (needs[i]) grads[i] = g.slice(d, starts[i], starts[i] + sizes[i]);
                     return grads;
                   });
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim) {
  ANVIL_CHECK_OP(x.defined(), "[split] x is undefined");
  ANVIL_CHECK_OP(x.dim() >= 1, "[split] cannot split a 0-d tensor ", x.str());
  const int64_t d = normalize_dim(dim, x.dim(), "split");
  int64_t total = 0;
  for (int64_t s : sizes) {
    ANVIL_CHECK_OP(s >= 0, "[split] negative size ", s, " when splitting ", x.str());
    total += s;
  }
  ANVIL_CHECK_OP(total == x.shape()[size_t(d)], "[split] sizes sum to ", total, " but dim ", d, " of ",
                 x.str(), " has ", x.shape()[size_t(d)]);
  std::vector<Tensor> pieces;
  pieces.reserve(sizes.size());
  int64_t start = 0;
  for (int64_t s : sizes) {
    pieces.push_back(x.slice(d, start, start + s));
    start += s;
  }
  return pieces;
}

}  // namespace anvil::ops
