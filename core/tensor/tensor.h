// Tensor: a strided view (shape, strides, offset, dtype) of a Storage on a device, plus the
// autograd state (requires_grad, grad, the Node that produced it, hooks).
//
// A Tensor is a cheap handle (shared_ptr to TensorImpl); copies share the same tensor, as in
// PyTorch. View ops (view/reshape, transpose/permute, slice, expand, squeeze/unsqueeze) share
// storage and are differentiable. Dimension letters used in shape comments are defined in
// docs/ARCHITECTURE.md: B batch, T time, C channels, H heads, D head dim, V vocabulary.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "core/base/device.h"
#include "core/base/dtype.h"
#include "core/base/error.h"
#include "core/base/rng.h"
#include "core/tensor/storage.h"

namespace anvil {

using Shape = std::vector<int64_t>;
class Tensor;
struct Node;

std::string shape_str(const Shape& s);
int64_t shape_numel(const Shape& s);
Shape contiguous_strides(const Shape& s);

// Called after a leaf's .grad has received its contribution from a backward pass.
using GradHook = std::function<void(Tensor& param)>;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;  // in elements
  int64_t offset = 0;  // in elements
  DType dtype = DType::F32;
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;  // leaf gradient, accumulated by backward()
  std::shared_ptr<Node> grad_fn;     // set on outputs of differentiable ops
  std::vector<GradHook> post_accumulate_hooks;
  std::string name;  // optional, for messages (parameters carry their HF name)
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- factories -------------------------------------------------------------------------
  static Tensor empty(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
  static Tensor zeros(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
  static Tensor ones(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
  static Tensor full(const Shape& shape, float value, DType dtype = DType::F32, Device device = Device::cpu());
  // Copies host values (converted to dtype) into a new tensor on the CPU.
  static Tensor from_vector(const std::vector<float>& values, const Shape& shape, DType dtype = DType::F32);
  static Tensor from_ints(const std::vector<int64_t>& values, const Shape& shape, DType dtype = DType::I64);
  static Tensor arange(int64_t n, DType dtype = DType::I64);
  // Normal(0, std) / Uniform[lo, hi) from the counter-based RNG; advances gen.offset.
  static Tensor randn(const Shape& shape, Generator& gen, float std = 1.0f, DType dtype = DType::F32);
  static Tensor rand(const Shape& shape, Generator& gen, float lo = 0.0f, float hi = 1.0f, DType dtype = DType::F32);
  // Wraps existing storage as a tensor (no copy).
  static Tensor from_storage(std::shared_ptr<Storage> storage, const Shape& shape, const Shape& strides,
                             int64_t offset, DType dtype);

  // ---- metadata --------------------------------------------------------------------------
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl_->shape; }
  const Shape& strides() const { return impl_->strides; }
  int64_t dim() const { return int64_t(impl_->shape.size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const { return shape_numel(impl_->shape); }
  int64_t offset() const { return impl_->offset; }
  DType dtype() const { return impl_->dtype; }
  Device device() const { return impl_->storage ? impl_->storage->device() : Device::cpu(); }
  int64_t nbytes() const { return numel() * dtype_size(dtype()); }
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const { return impl_->storage; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  const std::string& name() const { return impl_->name; }
  Tensor& set_name(std::string n) {
    impl_->name = std::move(n);
    return *this;
  }
  std::string str() const;  // "f32[2, 3] cpu"

  // Pointer to the first element (storage + offset). Typed access checks the dtype.
  void* data_ptr() const;
  template <typename T>
  T* data() const;

  // ---- views (differentiable; share storage) -----------------------------------------------
  Tensor view(const Shape& shape) const;     // requires compatible strides; -1 infers one dim
  Tensor reshape(const Shape& shape) const;  // a view when possible, else a copy
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor expand(const Shape& shape) const;   // size-1 dims broadcast with stride 0
  Tensor unsqueeze(int64_t dim) const;
  Tensor squeeze(int64_t dim) const;
  Tensor flatten(int64_t start = 0, int64_t end = -1) const;

  // ---- copies ---------------------------------------------------------------------------
  Tensor contiguous() const;  // itself when already contiguous
  Tensor clone() const;       // always a fresh contiguous copy (differentiable)
  Tensor to(DType dtype) const;   // differentiable for floating dtypes
  Tensor to(Device device) const; // differentiable
  Tensor detach() const;      // same storage, no graph

  // ---- autograd ------------------------------------------------------------------------
  bool requires_grad() const { return impl_->requires_grad; }
  Tensor& set_requires_grad(bool r);
  bool is_leaf() const { return impl_->grad_fn == nullptr; }
  Tensor grad() const { return impl_->grad ? Tensor(impl_->grad) : Tensor(); }
  void set_grad(const Tensor& g) { impl_->grad = g.impl_; }
  void zero_grad() { impl_->grad.reset(); }
  const std::shared_ptr<Node>& grad_fn() const { return impl_->grad_fn; }
  // Runs backpropagation from this tensor (a scalar unless grad_output is given).
  void backward(const Tensor& grad_output = Tensor()) const;
  void add_post_accumulate_hook(GradHook hook) { impl_->post_accumulate_hooks.push_back(std::move(hook)); }

  // ---- host access ---------------------------------------------------------------------
  float item() const;                   // a one-element tensor as float
  std::vector<float> to_f32_vector() const;   // all elements, row-major, as f32
  std::vector<int64_t> to_i64_vector() const;

 private:
  std::shared_ptr<TensorImpl> impl_;
};

template <typename T>
struct DTypeOf;
template <> struct DTypeOf<float> { static constexpr DType value = DType::F32; };
template <> struct DTypeOf<int32_t> { static constexpr DType value = DType::I32; };
template <> struct DTypeOf<int64_t> { static constexpr DType value = DType::I64; };
template <> struct DTypeOf<int8_t> { static constexpr DType value = DType::I8; };
template <> struct DTypeOf<uint8_t> { static constexpr DType value = DType::U8; };
template <> struct DTypeOf<bf16> { static constexpr DType value = DType::BF16; };
template <> struct DTypeOf<f16> { static constexpr DType value = DType::F16; };

void check_dtype_access(const Tensor& t, DType want);

template <typename T>
T* Tensor::data() const {
  check_dtype_access(*this, DTypeOf<std::remove_const_t<T>>::value);
  return static_cast<T*>(data_ptr());
}

// Operators call the differentiable ops in core/ops/ops.h (defined in core/ops/tensor_methods.cpp).
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, float s);
Tensor operator*(float s, const Tensor& a);
Tensor operator+(const Tensor& a, float s);
Tensor operator-(const Tensor& a);

}  // namespace anvil
