// Copies and casts: contiguous(), to(dtype), to(device); and the in-place helpers optimizers use.
#include "core/ops/op_utils.h"
#include "kernels/cpu/convert.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/device_runtime.h"

namespace anvil::ops {

using namespace detail;

namespace {

// A contiguous copy of `a` with the same dtype and device (no graph).
Tensor contiguous_copy(const Tensor& a) {
  Tensor out = Tensor::empty(a.shape(), a.dtype(), a.device());
  if (a.numel() == 0) return out;
  if (a.device().is_cpu()) {
    kernels::cpu::strided_copy(a.data_ptr(), dtype_size(a.dtype()), a.shape().data(), a.strides().data(),
                               int(a.dim()), out.data_ptr());
    return out;
  }
  ANVIL_CHECK_OP(a.is_contiguous(), "[contiguous] strided copies of CUDA tensors need the CUDA copy kernel: ", a.str());
  kernels::cuda_memcpy(out.data_ptr(), a.data_ptr(), size_t(a.nbytes()), kernels::CopyKind::DeviceToDevice,
                       a.device().index);
  return out;
}

}  // namespace

Tensor contiguous(const Tensor& a) {
  Tensor out = contiguous_copy(a);
  return record_op("ContiguousBackward", {a}, out, [](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{g};
  });
}

Tensor to_dtype(const Tensor& a, DType dtype) {
  check_cpu(a, "to_dtype");
  Tensor src = a.is_contiguous() ? a.detach() : contiguous_copy(a);
  Tensor out = Tensor::empty(a.shape(), dtype, a.device());
  kernels::cpu::convert(src.data_ptr(), src.dtype(), out.data_ptr(), dtype, a.numel());
  if (!is_floating(dtype)) return out;
  DType from = a.dtype();
  return record_op("ToDtypeBackward", {a}, out, [from](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{g.to(from)};
  });
}

Tensor to_device(const Tensor& a, Device device) {
  Tensor src = a.is_contiguous() ? a.detach() : contiguous_copy(a);
  Tensor out = Tensor::empty(a.shape(), a.dtype(), device);
  if (a.numel() > 0) {
    if (a.device().is_cpu() && device.is_cuda()) {
      kernels::cuda_memcpy(out.data_ptr(), src.data_ptr(), size_t(a.nbytes()), kernels::CopyKind::HostToDevice,
                           device.index);
    } else if (a.device().is_cuda() && device.is_cpu()) {
      kernels::cuda_memcpy(out.data_ptr(), src.data_ptr(), size_t(a.nbytes()), kernels::CopyKind::DeviceToHost,
                           a.device().index);
    } else {
      ANVIL_CHECK_OP(false, "[to_device] copies between two CUDA devices are not supported: ", a.str(), " -> ",
                     device.str());
    }
  }
  Device from = a.device();
  return record_op("ToDeviceBackward", {a}, out, [from](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{g.to(from)};
  });
}

void copy_(Tensor& dst, const Tensor& src) {
  ANVIL_CHECK_OP(dst.shape() == src.shape(), "[copy_] shapes differ: ", dst.str(), " <- ", src.str());
  NoGradGuard no_grad;
  Tensor s = src.detach();
  if (s.device() != dst.device()) s = s.to(dst.device());
  if (s.dtype() != dst.dtype()) s = s.to(dst.dtype());
  s = s.contiguous();
  if (dst.device().is_cpu()) {
    kernels::cpu::strided_scatter(s.data_ptr(), dtype_size(dst.dtype()), dst.data_ptr(), dst.shape().data(),
                                  dst.strides().data(), int(dst.dim()));
    return;
  }
  ANVIL_CHECK_OP(dst.is_contiguous(), "[copy_] strided CUDA destinations need the CUDA copy kernel: ", dst.str());
  kernels::cuda_memcpy(dst.data_ptr(), s.data_ptr(), size_t(s.nbytes()), kernels::CopyKind::DeviceToDevice,
                       dst.device().index);
}

void fill_(Tensor& dst, float value) {
  if (dst.numel() == 0) return;
  if (dst.device().is_cuda()) {
    ANVIL_CHECK_OP(value == 0.0f && dst.is_contiguous(), "[fill_] CUDA fill with a non-zero value needs the CUDA kernel");
    kernels::cuda_memset_zero(dst.data_ptr(), size_t(dst.nbytes()), dst.device().index);
    return;
  }
  if (dst.is_contiguous()) {
    const int64_t n = dst.numel();
    if (dst.dtype() == DType::F32) {
      float* p = dst.data<float>();
#pragma omp parallel for if (n > 65536)
      for (int64_t i = 0; i < n; ++i) p[i] = value;
    } else {
      for (int64_t i = 0; i < n; ++i) kernels::cpu::store_from_f32(dst.data_ptr(), dst.dtype(), i, value);
    }
    return;
  }
  Tensor tmp = Tensor::full(dst.shape(), value, dst.dtype());
  copy_(dst, tmp);
}

void add_(Tensor& dst, const Tensor& src, float alpha) {
  ANVIL_CHECK_OP(dst.shape() == src.shape(), "[add_] shapes differ: ", dst.str(), " += ", src.str());
  check_cpu(dst, "add_");
  if (dst.dtype() == DType::F32 && dst.is_contiguous()) {
    Tensor s = f32_contiguous(src);
    kernels::cpu::axpy_f32(dst.data<float>(), s.data<float>(), alpha, dst.numel());
    return;
  }
  Tensor d = f32_contiguous(dst);
  if (d.impl() == dst.impl()) d = d.clone();
  Tensor s = f32_contiguous(src);
  kernels::cpu::axpy_f32(d.data<float>(), s.data<float>(), alpha, d.numel());
  copy_(dst, d);
}

void mul_(Tensor& dst, float s) {
  check_cpu(dst, "mul_");
  if (dst.dtype() == DType::F32 && dst.is_contiguous()) {
    kernels::cpu::scale_f32(dst.data<float>(), s, dst.numel());
    return;
  }
  Tensor d = f32_contiguous(dst).clone();
  kernels::cpu::scale_f32(d.data<float>(), s, d.numel());
  copy_(dst, d);
}

}  // namespace anvil::ops
