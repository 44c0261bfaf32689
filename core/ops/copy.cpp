// Copies and casts: contiguous(), to(dtype), to(device); and the in-place helpers optimizers use.
#include "core/ops/op_utils.h"
#include "kernels/cpu/convert.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cuda/convert.h"
#include "kernels/cuda/elementwise.h"
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
  if (a.is_contiguous()) {
    kernels::cuda_memcpy(out.data_ptr(), a.data_ptr(), size_t(a.nbytes()), kernels::CopyKind::DeviceToDevice,
                         a.device().index);
    return out;
  }
  kernels::cuda::strided_copy(dtype_size(a.dtype()), a.data_ptr(), a.strides().data(), out.data_ptr(),
                              out.strides().data(), a.shape().data(), int(a.dim()), cuda_stream(a));
  return out;
}

// dtype conversion of a contiguous tensor on its own device (no graph).
Tensor convert_contiguous(const Tensor& src, DType dtype) {
  Tensor out = Tensor::empty(src.shape(), dtype, src.device());
  if (src.numel() == 0) return out;
  if (src.device().is_cpu()) {
    kernels::cpu::convert(src.data_ptr(), src.dtype(), out.data_ptr(), dtype, src.numel());
  } else if (is_floating(src.dtype()) && is_floating(dtype)) {
    kernels::cuda::cast(src.data_ptr(), src.dtype(), out.data_ptr(), dtype, src.numel(), cuda_stream(src));
  } else {
    // Integer conversions on CUDA tensors (ids, targets) go through the host: rare and small.
    Tensor host = src.to(Device::cpu());
    Tensor converted = Tensor::empty(src.shape(), dtype);
    kernels::cpu::convert(host.data_ptr(), host.dtype(), converted.data_ptr(), dtype, src.numel());
    out = converted.to(src.device());
  }
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
  Tensor src = a.is_contiguous() ? a.detach() : contiguous_copy(a);
  Tensor out;
  {
    NoGradGuard no_grad;
    out = convert_contiguous(src, dtype);
  }
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
  if (dst.numel() == 0) return;
  if (dst.is_contiguous()) {
    kernels::cuda_memcpy(dst.data_ptr(), s.data_ptr(), size_t(s.nbytes()), kernels::CopyKind::DeviceToDevice,
                         dst.device().index);
    return;
  }
  kernels::cuda::strided_copy(dtype_size(dst.dtype()), s.data_ptr(), s.strides().data(), dst.data_ptr(),
                              dst.strides().data(), dst.shape().data(), int(dst.dim()), cuda_stream(dst));
}

void fill_(Tensor& dst, float value) {
  if (dst.numel() == 0) return;
  if (dst.device().is_cuda()) {
    if (dst.is_contiguous() && value == 0.0f) {
      kernels::cuda_memset_zero(dst.data_ptr(), size_t(dst.nbytes()), dst.device().index);
    } else if (dst.is_contiguous() && is_floating(dst.dtype())) {
      kernels::cuda::fill(dst.dtype(), dst.data_ptr(), value, dst.numel(), cuda_stream(dst));
    } else {
      // Strided or integer destinations: fill a contiguous tensor and copy it in.
      Tensor tmp = Tensor::full(dst.shape(), value, dst.dtype(), dst.is_contiguous() ? Device::cpu() : dst.device());
      copy_(dst, tmp);
    }
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
  if (dst.device().is_cuda()) {
    NoGradGuard no_grad;
    Tensor s = src.detach();
    if (s.device() != dst.device()) s = s.to(dst.device());
    if (dst.is_contiguous() && s.dtype() == dst.dtype()) {
      s = s.contiguous();
      kernels::cuda::axpy(dst.dtype(), dst.data_ptr(), s.data_ptr(), alpha, dst.numel(), cuda_stream(dst));
      return;
    }
    // Mixed dtypes or a strided destination: accumulate in f32, then store back.
    Tensor d = f32_contiguous(dst).clone();
    Tensor sf = f32_contiguous(s);
    kernels::cuda::axpy(DType::F32, d.data_ptr(), sf.data_ptr(), alpha, d.numel(), cuda_stream(dst));
    copy_(dst, d);
    return;
  }
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
  if (dst.device().is_cuda()) {
    NoGradGuard no_grad;
    if (dst.is_contiguous()) {
      kernels::cuda::scalar(kernels::cuda::ScalarOp::Mul, dst.dtype(), dst.data_ptr(), s, dst.data_ptr(), dst.numel(),
                            cuda_stream(dst));
      return;
    }
    Tensor d = dst.detach().contiguous().clone();
    kernels::cuda::scalar(kernels::cuda::ScalarOp::Mul, d.dtype(), d.data_ptr(), s, d.data_ptr(), d.numel(),
                          cuda_stream(dst));
    copy_(dst, d);
    return;
  }
  if (dst.dtype() == DType::F32 && dst.is_contiguous()) {
    kernels::cpu::scale_f32(dst.data<float>(), s, dst.numel());
    return;
  }
  Tensor d = f32_contiguous(dst).clone();
  kernels::cpu::scale_f32(d.data<float>(), s, d.numel());
  copy_(dst, d);
}

}  // namespace anvil::ops
