// Tensor construction, metadata, detach and host access. The methods that record a graph node or
// call an op (views, copies, backward, zeros/full, the operators) are defined one layer up, in
// core/ops/tensor_methods.cpp (see the layer rules in docs/ARCHITECTURE.md).
#include "core/tensor/tensor.h"

#include <algorithm>
#include <numeric>
#include <sstream>

#include "core/base/error.h"
#include "kernels/cpu/convert.h"
#include "kernels/device_runtime.h"

namespace anvil {

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << "]";
  return os.str();
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

Shape contiguous_strides(const Shape& s) {
  Shape st(s.size());
  int64_t acc = 1;
  for (int64_t i = int64_t(s.size()) - 1; i >= 0; --i) {
    st[size_t(i)] = acc;
    acc *= std::max<int64_t>(s[size_t(i)], 1);
  }
  return st;
}

void check_dtype_access(const Tensor& t, DType want) {
  ANVIL_CHECK_OP(t.defined(), "[data] undefined tensor");
  ANVIL_CHECK_OP(t.dtype() == want, "[data] tensor is ", dtype_name(t.dtype()), ", accessed as ", dtype_name(want));
}

// ---- factories ---------------------------------------------------------------------------------

Tensor Tensor::from_storage(std::shared_ptr<Storage> storage, const Shape& shape, const Shape& strides,
                            int64_t offset, DType dtype) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::move(storage);
  impl->shape = shape;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = dtype;
  return Tensor(impl);
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t d : shape) ANVIL_CHECK_OP(d >= 0, "[empty] negative dimension in shape ", shape_str(shape));
  if (device.is_cuda()) {
    ANVIL_CHECK_OP(device.index < kernels::cuda_device_count(), "[empty] device ", device.str(),
                   " is not available (", kernels::cuda_device_count(), " CUDA devices",
                   kernels::cuda_built() ? "" : "; built without CUDA", ")");
  }
  auto storage = std::make_shared<Storage>(shape_numel(shape) * dtype_size(dtype), device);
  return from_storage(std::move(storage), shape, contiguous_strides(shape), 0, dtype);
}

Tensor Tensor::from_vector(const std::vector<float>& values, const Shape& shape, DType dtype) {
  ANVIL_CHECK_OP(int64_t(values.size()) == shape_numel(shape), "[from_vector] ", values.size(),
                 " values for shape ", shape_str(shape));
  Tensor t = empty(shape, dtype);
  kernels::cpu::convert(values.data(), DType::F32, t.data_ptr(), dtype, t.numel());
  return t;
}

Tensor Tensor::from_ints(const std::vector<int64_t>& values, const Shape& shape, DType dtype) {
  ANVIL_CHECK_OP(int64_t(values.size()) == shape_numel(shape), "[from_ints] ", values.size(),
                 " values for shape ", shape_str(shape));
  Tensor t = empty(shape, dtype);
  kernels::cpu::convert(values.data(), DType::I64, t.data_ptr(), dtype, t.numel());
  return t;
}

Tensor Tensor::arange(int64_t n, DType dtype) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return from_ints(v, {n}, dtype);
}

Tensor Tensor::randn(const Shape& shape, Generator& gen, float std, DType dtype) {
  int64_t n = shape_numel(shape);
  uint64_t off = gen.take(uint64_t(n));
  std::vector<float> v(static_cast<size_t>(n));
#pragma omp parallel for if (n > 65536)
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = std * Philox4x32::normal(gen.seed, off + uint64_t(i));
  return from_vector(v, shape, dtype);
}

Tensor Tensor::rand(const Shape& shape, Generator& gen, float lo, float hi, DType dtype) {
  int64_t n = shape_numel(shape);
  uint64_t off = gen.take(uint64_t(n));
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = lo + (hi - lo) * Philox4x32::uniform(gen.seed, off + uint64_t(i));
  return from_vector(v, shape, dtype);
}

// ---- metadata ----------------------------------------------------------------------------------

int64_t Tensor::size(int64_t d) const {
  int64_t n = dim();
  int64_t i = d < 0 ? d + n : d;
  ANVIL_CHECK_OP(i >= 0 && i < n, "[size] dim ", d, " out of range for shape ", shape_str(shape()));
  return impl_->shape[size_t(i)];
}

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (int64_t i = dim() - 1; i >= 0; --i) {
    int64_t s = impl_->shape[size_t(i)];
    if (s == 1) continue;
    if (impl_->strides[size_t(i)] != expected) return false;
    expected *= s;
  }
  return true;
}

std::string Tensor::str() const {
  if (!defined()) return "undefined";
  return std::string(dtype_name(dtype())) + shape_str(shape()) + " " + device().str();
}

void* Tensor::data_ptr() const {
  if (!impl_->storage) return nullptr;
  return static_cast<char*>(impl_->storage->data()) + impl_->offset * dtype_size(impl_->dtype);
}

// ---- copies ------------------------------------------------------------------------------------

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->shape = impl_->shape;
  impl->strides = impl_->strides;
  impl->offset = impl_->offset;
  impl->dtype = impl_->dtype;
  impl->name = impl_->name;
  return Tensor(impl);
}

// ---- autograd ----------------------------------------------------------------------------------

Tensor& Tensor::set_requires_grad(bool r) {
  ANVIL_CHECK_OP(!r || is_floating(dtype()), "[requires_grad] only floating tensors can require grad, got ", str());
  impl_->requires_grad = r;
  return *this;
}

// ---- host access -------------------------------------------------------------------------------

std::vector<float> Tensor::to_f32_vector() const {
  Tensor c = detach().to(Device::cpu()).contiguous();
  std::vector<float> v(size_t(c.numel()));
  kernels::cpu::convert(c.data_ptr(), c.dtype(), v.data(), DType::F32, c.numel());
  return v;
}

std::vector<int64_t> Tensor::to_i64_vector() const {
  Tensor c = detach().to(Device::cpu()).contiguous();
  std::vector<int64_t> v(size_t(c.numel()));
  kernels::cpu::convert(c.data_ptr(), c.dtype(), v.data(), DType::I64, c.numel());
  return v;
}

float Tensor::item() const {
  ANVIL_CHECK_OP(numel() == 1, "[item] tensor has ", numel(), " elements: ", str());
  return to_f32_vector()[0];
}

}  // namespace anvil
