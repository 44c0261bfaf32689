// The Tensor methods that record a graph node or call an op: zeros/ones/full (fill_), the
// differentiable views (each records a node whose backward maps the gradient back through the
// inverse view), contiguous/clone/to, backward() and the arithmetic operators. They are declared in
// core/tensor/tensor.h but live here, above autograd and the ops, so that core/tensor includes
// neither (the layer rules in docs/ARCHITECTURE.md).
#include <algorithm>
#include <numeric>

#include "core/autograd/autograd.h"
#include "core/base/error.h"
#include "core/ops/ops.h"
#include "core/tensor/tensor.h"

namespace anvil {

// ---- factories that fill -----------------------------------------------------------------------

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  ops::fill_(t, 0.0f);
  return t;
}

Tensor Tensor::ones(const Shape& shape, DType dtype, Device device) { return full(shape, 1.0f, dtype, device); }

Tensor Tensor::full(const Shape& shape, float value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  ops::fill_(t, value);
  return t;
}

// ---- views -------------------------------------------------------------------------------------

namespace {

Tensor make_view(const Tensor& base, const Shape& shape, const Shape& strides, int64_t offset) {
  return Tensor::from_storage(base.storage(), shape, strides, offset, base.dtype());
}

Shape infer_shape(const Shape& shape, int64_t numel, const char* op) {
  Shape out = shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      ANVIL_CHECK_OP(infer < 0, "[", op, "] more than one -1 in ", shape_str(shape));
      infer = int64_t(i);
    } else {
      known *= out[i];
    }
  }
  if (infer >= 0) {
    ANVIL_CHECK_OP(known > 0 && numel % known == 0, "[", op, "] cannot infer -1 in ", shape_str(shape),
                   " for ", numel, " elements");
    out[size_t(infer)] = numel / known;
  }
  ANVIL_CHECK_OP(shape_numel(out) == numel, "[", op, "] shape ", shape_str(shape), " does not hold ", numel,
                 " elements");
  return out;
}

// Strides for viewing `t` as `shape` without a copy, or false when impossible. Old dims are
// grouped into chunks that are contiguous among themselves; each chunk must map onto whole new dims.
bool view_strides(const Tensor& t, const Shape& shape, Shape* out) {
  if (t.is_contiguous() || t.numel() == 0) {
    *out = contiguous_strides(shape);
    return true;
  }
  const Shape& os = t.shape();
  const Shape& ost = t.strides();
  Shape st(shape.size(), 1);
  int64_t view_d = int64_t(shape.size()) - 1;
  int64_t chunk_base_stride = ost.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t td = int64_t(os.size()) - 1; td >= 0; --td) {
    tensor_numel *= os[size_t(td)];
    bool chunk_ends = td == 0 || (os[size_t(td - 1)] != 1 && ost[size_t(td - 1)] != tensor_numel * chunk_base_stride);
    if (!chunk_ends) continue;
    while (view_d >= 0 && (view_numel < tensor_numel || shape[size_t(view_d)] == 1)) {
      st[size_t(view_d)] = view_numel * chunk_base_stride;
      view_numel *= shape[size_t(view_d)];
      --view_d;
    }
    if (view_numel != tensor_numel) return false;
    if (td > 0) {
      chunk_base_stride = ost[size_t(td - 1)];
      tensor_numel = 1;
      view_numel = 1;
    }
  }
  if (view_d != -1) return false;
  *out = st;
  return true;
}

}  // namespace

Tensor Tensor::view(const Shape& shape_in) const {
  Shape shape = infer_shape(shape_in, numel(), "view");
  Shape st;
  ANVIL_CHECK_OP(view_strides(*this, shape, &st), "[view] cannot view ", str(), " with strides ",
                 shape_str(strides()), " as ", shape_str(shape), " without a copy; use reshape");
  Tensor out = make_view(*this, shape, st, offset());
  Shape in_shape = this->shape();
  return record_op("ViewBackward", {*this}, out, [in_shape](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{g.reshape(in_shape)};
  });
}

Tensor Tensor::reshape(const Shape& shape_in) const {
  Shape shape = infer_shape(shape_in, numel(), "reshape");
  Shape st;
  if (view_strides(*this, shape, &st)) return view(shape);
  return contiguous().view(shape);
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
  std::vector<int64_t> perm(static_cast<size_t>(dim()));
  std::iota(perm.begin(), perm.end(), 0);
  int64_t a = d0 < 0 ? d0 + dim() : d0, b = d1 < 0 ? d1 + dim() : d1;
  ANVIL_CHECK_OP(a >= 0 && a < dim() && b >= 0 && b < dim(), "[transpose] dims ", d0, ", ", d1,
                 " out of range for ", str());
  std::swap(perm[size_t(a)], perm[size_t(b)]);
  return permute(perm);
}

Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
  ANVIL_CHECK_OP(int64_t(dims.size()) == dim(), "[permute] ", dims.size(), " dims for ", str());
  Shape shape(dims.size()), st(dims.size());
  std::vector<int64_t> inverse(dims.size(), -1);
  for (size_t i = 0; i < dims.size(); ++i) {
    int64_t d = dims[i] < 0 ? dims[i] + dim() : dims[i];
    ANVIL_CHECK_OP(d >= 0 && d < dim() && inverse[size_t(d)] < 0, "[permute] invalid permutation for ", str());
    inverse[size_t(d)] = int64_t(i);
    shape[i] = impl_->shape[size_t(d)];
    st[i] = impl_->strides[size_t(d)];
  }
  Tensor out = make_view(*this, shape, st, offset());
  return record_op("PermuteBackward", {*this}, out, [inverse](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{g.permute(inverse)};
  });
}

Tensor Tensor::slice(int64_t d_in, int64_t start, int64_t end, int64_t step) const {
  int64_t d = d_in < 0 ? d_in + dim() : d_in;
  ANVIL_CHECK_OP(d >= 0 && d < dim(), "[slice] dim ", d_in, " out of range for ", str());
  ANVIL_CHECK_OP(step > 0, "[slice] step must be positive, got ", step);
  int64_t n = impl_->shape[size_t(d)];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape shape = this->shape(), st = strides();
  shape[size_t(d)] = (end - start + step - 1) / step;
  st[size_t(d)] *= step;
  Tensor out = make_view(*this, shape, st, offset() + start * strides()[size_t(d)]);
  Shape in_shape = this->shape();
  DType dt = dtype();
  Device dev = device();
  return record_op("SliceBackward", {*this}, out, [=](const Tensor& g, const std::vector<bool>&) {
    Tensor full = Tensor::zeros(in_shape, dt, dev);
    Tensor window = full.slice(d, start, end, step);
    ops::copy_(window, g);
    return std::vector<Tensor>{full};
  });
}

Tensor Tensor::expand(const Shape& shape) const {
  ANVIL_CHECK_OP(int64_t(shape.size()) >= dim(), "[expand] cannot expand ", str(), " to ", shape_str(shape));
  size_t lead = shape.size() - size_t(dim());
  Shape out_shape(shape.size()), st(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i < lead) {
      ANVIL_CHECK_OP(shape[i] >= 0, "[expand] invalid size in ", shape_str(shape));
      out_shape[i] = shape[i];
      st[i] = 0;
      continue;
    }
    int64_t have = impl_->shape[i - lead];
    int64_t want = shape[i] == -1 ? have : shape[i];
    ANVIL_CHECK_OP(have == want || have == 1, "[expand] cannot expand ", str(), " to ", shape_str(shape));
    out_shape[i] = want;
    st[i] = have == want ? impl_->strides[i - lead] : 0;
  }
  Tensor out = make_view(*this, out_shape, st, offset());
  Shape in_shape = this->shape();
  return record_op("ExpandBackward", {*this}, out, [in_shape](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{sum_to_shape(g, in_shape)};
  });
}

Tensor Tensor::unsqueeze(int64_t d) const {
  int64_t i = d < 0 ? d + dim() + 1 : d;
  ANVIL_CHECK_OP(i >= 0 && i <= dim(), "[unsqueeze] dim ", d, " out of range for ", str());
  Shape s = shape();
  s.insert(s.begin() + i, 1);
  return view(s);
}

Tensor Tensor::squeeze(int64_t d) const {
  int64_t i = d < 0 ? d + dim() : d;
  ANVIL_CHECK_OP(i >= 0 && i < dim() && shape()[size_t(i)] == 1, "[squeeze] dim ", d, " is not of size 1 in ", str());
  Shape s = shape();
  s.erase(s.begin() + i);
  return view(s);
}

Tensor Tensor::flatten(int64_t start, int64_t end) const {
  int64_t n = dim();
  int64_t s = start < 0 ? start + n : start, e = end < 0 ? end + n : end;
  ANVIL_CHECK_OP(s >= 0 && e < n && s <= e, "[flatten] bad range ", start, "..", end, " for ", str());
  Shape out;
  for (int64_t i = 0; i < s; ++i) out.push_back(shape()[size_t(i)]);
  int64_t m = 1;
  for (int64_t i = s; i <= e; ++i) m *= shape()[size_t(i)];
  out.push_back(m);
  for (int64_t i = e + 1; i < n; ++i) out.push_back(shape()[size_t(i)]);
  return reshape(out);
}

// ---- copies ------------------------------------------------------------------------------------

Tensor Tensor::contiguous() const { return is_contiguous() ? *this : ops::contiguous(*this); }
Tensor Tensor::clone() const { return ops::contiguous(*this); }
Tensor Tensor::to(DType dtype) const { return dtype == this->dtype() ? *this : ops::to_dtype(*this, dtype); }
Tensor Tensor::to(Device device) const { return device == this->device() ? *this : ops::to_device(*this, device); }

// ---- autograd ----------------------------------------------------------------------------------

void Tensor::backward(const Tensor& grad_output) const { run_backward(*this, grad_output); }

// ---- operators ---------------------------------------------------------------------------------

Tensor operator+(const Tensor& a, const Tensor& b) { return ops::add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return ops::sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return ops::mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return ops::div(a, b); }
Tensor operator*(const Tensor& a, float s) { return ops::mul_scalar(a, s); }
Tensor operator*(float s, const Tensor& a) { return ops::mul_scalar(a, s); }
Tensor operator+(const Tensor& a, float s) { return ops::add_scalar(a, s); }
Tensor operator-(const Tensor& a) { return ops::neg(a); }

}  // namespace anvil
