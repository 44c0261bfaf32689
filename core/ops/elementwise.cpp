// Binary ops with broadcasting (add, sub, mul, div), scalar ops and neg.
// Backward: each input's gradient is reduced back to its own shape with sum_to_shape.
#include "core/ops/op_utils.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cuda/elementwise.h"

namespace anvil::ops {

using namespace detail;
using kernels::cpu::BinaryOp;

namespace {

const char* binary_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add: return "add";
    case BinaryOp::Sub: return "sub";
    case BinaryOp::Mul: return "mul";
    case BinaryOp::Div: return "div";
  }
  return "?";
}

// Strides of `t` laid over `out_shape` (0 on broadcast dims).
Shape broadcast_strides(const Tensor& t, const Shape& out_shape) {
  Shape st(out_shape.size(), 0);
  size_t lead = out_shape.size() - size_t(t.dim());
  for (size_t i = 0; i < size_t(t.dim()); ++i)
    st[lead + i] = t.shape()[i] == 1 ? 0 : t.strides()[i];
  return st;
}

Tensor binary_forward(BinaryOp op, const Tensor& a, const Tensor& b) {
  const char* name = binary_name(op);
  check_floating(a, name, "a");
  check_floating(b, name, "b");
  check_same_device(a, b, name);
  Shape out_shape = broadcast_shapes(a.shape(), b.shape(), name);
  const DType result = promote_floating(a.dtype(), b.dtype());
  if (a.device().is_cuda()) {
    // Same dtypes run in that dtype (f32 math, one rounding, as the CPU path); mixed ones in f32.
    Tensor ac = a.dtype() == result ? a.detach() : f32_contiguous(a);
    Tensor bc = b.dtype() == result ? b.detach() : f32_contiguous(b);
    Tensor out = Tensor::empty(out_shape, result, a.device());
    Shape as = broadcast_strides(ac, out_shape), bs = broadcast_strides(bc, out_shape);
    kernels::cuda::binary(op, result, ac.data_ptr(), as.data(), bc.data_ptr(), bs.data(), out.data_ptr(),
                          out_shape.data(), int(out_shape.size()), cuda_stream(a));
    return out;
  }
  // Strided f32 inputs are read in place; others are converted first.
  Tensor af = a.dtype() == DType::F32 ? a.detach() : f32_contiguous(a);
  Tensor bf = b.dtype() == DType::F32 ? b.detach() : f32_contiguous(b);
  Tensor out = Tensor::empty(out_shape, DType::F32);
  Shape as = broadcast_strides(af, out_shape), bs = broadcast_strides(bf, out_shape);
  kernels::cpu::binary_f32(op, af.data<float>(), as.data(), bf.data<float>(), bs.data(), out.data<float>(),
                           out_shape.data(), int(out_shape.size()));
  return cast_result(out, result);
}

// The gradient of an input of a binary op: reduced to its shape and in its dtype (the result's
// dtype may be wider after promotion; an input's gradient is always its own dtype, as in PyTorch).
Tensor input_grad(const Tensor& g, const Shape& shape, DType dtype) {
  Tensor r = sum_to_shape(g, shape);
  return r.dtype() == dtype ? r : to_dtype(r, dtype);
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(BinaryOp::Add, a, b);
  Shape sa = a.shape(), sb = b.shape();
  const DType da = a.dtype(), db = b.dtype();
  return record_op("AddBackward", {a, b}, out, [sa, sb, da, db](const Tensor& g, const std::vector<bool>& needs) {
    return std::vector<Tensor>{needs[0] ? input_grad(g, sa, da) : Tensor(), needs[1] ? input_grad(g, sb, db) : Tensor()};
  });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(BinaryOp::Sub, a, b);
  Shape sa = a.shape(), sb = b.shape();
  const DType da = a.dtype(), db = b.dtype();
  return record_op("SubBackward", {a, b}, out, [sa, sb, da, db](const Tensor& g, const std::vector<bool>& needs) {
    return std::vector<Tensor>{needs[0] ? input_grad(g, sa, da) : Tensor(),
                               needs[1] ? input_grad(neg(g), sb, db) : Tensor()};
  });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(BinaryOp::Mul, a, b);
  Tensor ad = a.detach(), bd = b.detach();
  return record_op("MulBackward", {a, b}, out, [ad, bd](const Tensor& g, const std::vector<bool>& needs) {
    return std::vector<Tensor>{needs[0] ? input_grad(mul(g, bd), ad.shape(), ad.dtype()) : Tensor(),
                               needs[1] ? input_grad(mul(g, ad), bd.shape(), bd.dtype()) : Tensor()};
  });
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(BinaryOp::Div, a, b);
  Tensor ad = a.detach(), bd = b.detach(), od = out.detach();
  return record_op("DivBackward", {a, b}, out, [ad, bd, od](const Tensor& g, const std::vector<bool>& needs) {
    // d(a/b)/da = 1/b; d(a/b)/db = -a/b^2 = -out/b
    return std::vector<Tensor>{needs[0] ? input_grad(div(g, bd), ad.shape(), ad.dtype()) : Tensor(),
                               needs[1] ? input_grad(neg(div(mul(g, od), bd)), bd.shape(), bd.dtype()) : Tensor()};
  });
}

namespace {

// out = a + s or a * s on a CUDA tensor, in a's dtype (f32 math, one rounding).
Tensor cuda_scalar(kernels::cuda::ScalarOp op, const Tensor& a, float s) {
  Tensor ac = a.detach().contiguous();
  Tensor out = Tensor::empty(a.shape(), a.dtype(), a.device());
  kernels::cuda::scalar(op, a.dtype(), ac.data_ptr(), s, out.data_ptr(), a.numel(), cuda_stream(a));
  return out;
}

}  // namespace

Tensor add_scalar(const Tensor& a, float s) {
  check_floating(a, "add_scalar", "a");
  Tensor result;
  if (a.device().is_cuda()) {
    result = cuda_scalar(kernels::cuda::ScalarOp::Add, a, s);
  } else {
    Tensor af = f32_contiguous(a);
    Tensor out = Tensor::empty(a.shape(), DType::F32);
    kernels::cpu::add_scalar_f32(af.data<float>(), s, out.data<float>(), a.numel());
    result = cast_result(out, a.dtype());
  }
  return record_op("AddScalarBackward", {a}, result,
                   [](const Tensor& g, const std::vector<bool>&) { return std::vector<Tensor>{g}; });
}

Tensor mul_scalar(const Tensor& a, float s) {
  check_floating(a, "mul_scalar", "a");
  Tensor result;
  if (a.device().is_cuda()) {
    result = cuda_scalar(kernels::cuda::ScalarOp::Mul, a, s);
  } else {
    Tensor af = f32_contiguous(a);
    Tensor out = Tensor::empty(a.shape(), DType::F32);
    kernels::cpu::mul_scalar_f32(af.data<float>(), s, out.data<float>(), a.numel());
    result = cast_result(out, a.dtype());
  }
  return record_op("MulScalarBackward", {a}, result,
                   [s](const Tensor& g, const std::vector<bool>&) { return std::vector<Tensor>{mul_scalar(g, s)}; });
}

Tensor neg(const Tensor& a) { return mul_scalar(a, -1.0f); }

}  // namespace anvil::ops
