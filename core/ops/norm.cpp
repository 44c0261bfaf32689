// Normalization over the last dim: layer_norm (GPT-2's LayerNorm) and rms_norm (Llama's RMSNorm).
//
// Both compute in f32 whatever the storage dtype (HF's LlamaRMSNorm also upcasts to f32), and save
// the per-row statistics (mean, rstd) from the forward for the backward. weight and bias may be
// undefined (no affine part). Gradients come back in each input's own dtype.
#include "core/ops/op_utils.h"
#include "kernels/cpu/norm.h"
#include "kernels/cuda/norm.h"

namespace anvil::ops {

using namespace detail;

namespace {

// Checks that an optional per-channel parameter is a 1-d floating tensor of C elements.
void check_channel_param(const Tensor& p, const Tensor& x, const char* op, const char* arg) {
  if (!p.defined()) return;
  check_floating(p, op, arg);
  check_same_device(x, p, op);
  ANVIL_CHECK_OP(p.dim() == 1 && p.size(0) == x.size(-1), "[", op, "] ", arg, " ", p.str(),
                 " does not match the last dim of x ", x.str(), " (expected shape [", x.size(-1), "])");
}

void check_norm_input(const Tensor& x, const char* op) {
  check_floating(x, op, "x");
  ANVIL_CHECK_OP(x.dim() >= 1 && x.size(-1) > 0, "[", op, "] needs x with a non-empty last dim, got ", x.str());
}

const float* ptr_or_null(const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; }
float* mut_ptr_or_null(const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; }

// The CUDA kernels always scale by a weight: ones stand in for a norm without one.
Tensor weight_or_ones(const Tensor& wf, int64_t C, Device device) {
  return wf.defined() ? wf : Tensor::ones({C}, DType::F32, device);
}

}  // namespace

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps) {
  check_norm_input(x, "layer_norm");
  check_channel_param(weight, x, "layer_norm", "weight");
  check_channel_param(bias, x, "layer_norm", "bias");
  ANVIL_CHECK_OP(eps >= 0.0f, "[layer_norm] eps must be >= 0, got ", eps);
  const int64_t C = x.size(-1), N = x.numel() / C;
  Tensor xf = f32_contiguous(x);                                     // (N, C)
  Tensor wf = weight.defined() ? f32_contiguous(weight) : Tensor();  // (C)
  Tensor bf = bias.defined() ? f32_contiguous(bias) : Tensor();      // (C)
  const Device dev = x.device();
  const bool cuda = dev.is_cuda();
  Tensor out = Tensor::empty(x.shape(), DType::F32, dev);            // (..., C)
  Tensor mean = Tensor::empty({N}, DType::F32, dev), rstd = Tensor::empty({N}, DType::F32, dev);
  Tensor wk = cuda ? weight_or_ones(wf, C, dev) : Tensor();  // (C), the weight the CUDA kernels read
  if (cuda) {
    kernels::cuda::layernorm_forward(DType::F32, xf.data<float>(), wk.data<float>(), ptr_or_null(bf),
                                     out.data<float>(), mean.data<float>(), rstd.data<float>(), N, C, eps,
                                     cuda_stream(x));
  } else {
    kernels::cpu::layer_norm_forward_f32(xf.data<float>(), ptr_or_null(wf), ptr_or_null(bf), N, C, eps,
                                         out.data<float>(), mean.data<float>(), rstd.data<float>());
  }
  const DType x_dtype = x.dtype();
  const DType w_dtype = weight.defined() ? weight.dtype() : DType::F32;
  const DType b_dtype = bias.defined() ? bias.dtype() : DType::F32;
  return record_op(
      "LayerNormBackward", {x, weight, bias}, cast_result(out, x_dtype),
      [=](const Tensor& g, const std::vector<bool>& needs) {
        Tensor gf = f32_contiguous(g);
        Tensor dx, dw, db;
        if (needs[0]) dx = Tensor::empty(xf.shape(), DType::F32, dev);
        // Both kernels accumulate (+=) the parameter gradients.
        if (wf.defined() && needs[1]) dw = Tensor::zeros({C}, DType::F32, dev);
        if (bf.defined() && needs[2]) db = Tensor::zeros({C}, DType::F32, dev);
        if (cuda) {
          kernels::cuda::layernorm_backward(DType::F32, gf.data<float>(), xf.data<float>(), wk.data<float>(),
                                            mean.data<float>(), rstd.data<float>(), mut_ptr_or_null(dx),
                                            mut_ptr_or_null(dw), mut_ptr_or_null(db), N, C,
                                            /*accumulate_dx=*/false, cuda_stream(xf));
        } else {
          kernels::cpu::layer_norm_backward_f32(gf.data<float>(), xf.data<float>(), ptr_or_null(wf),
                                                mean.data<float>(), rstd.data<float>(), N, C, mut_ptr_or_null(dx),
                                                mut_ptr_or_null(dw), mut_ptr_or_null(db));
        }
        return std::vector<Tensor>{dx.defined() ? cast_result(dx, x_dtype) : Tensor(),
                                   dw.defined() ? cast_result(dw, w_dtype) : Tensor(),
                                   db.defined() ? cast_result(db, b_dtype) : Tensor()};
      });
}

Tensor rms_norm(const Tensor& x, const Tensor& weight, float eps) {
  check_norm_input(x, "rms_norm");
  check_channel_param(weight, x, "rms_norm", "weight");
  ANVIL_CHECK_OP(eps >= 0.0f, "[rms_norm] eps must be >= 0, got ", eps);
  const int64_t C = x.size(-1), N = x.numel() / C;
  Tensor xf = f32_contiguous(x);                                     // (N, C)
  Tensor wf = weight.defined() ? f32_contiguous(weight) : Tensor();  // (C)
  const Device dev = x.device();
  const bool cuda = dev.is_cuda();
  Tensor out = Tensor::empty(x.shape(), DType::F32, dev);            // (..., C)
  Tensor rstd = Tensor::empty({N}, DType::F32, dev);
  Tensor wk = cuda ? weight_or_ones(wf, C, dev) : Tensor();  // (C), the weight the CUDA kernels read
  if (cuda) {
    kernels::cuda::rmsnorm_forward(DType::F32, xf.data<float>(), wk.data<float>(), out.data<float>(),
                                   rstd.data<float>(), N, C, eps, cuda_stream(x));
  } else {
    kernels::cpu::rms_norm_forward_f32(xf.data<float>(), ptr_or_null(wf), N, C, eps, out.data<float>(),
                                       rstd.data<float>());
  }
  const DType x_dtype = x.dtype();
  const DType w_dtype = weight.defined() ? weight.dtype() : DType::F32;
  return record_op("RmsNormBackward", {x, weight}, cast_result(out, x_dtype),
                   [=](const Tensor& g, const std::vector<bool>& needs) {
                     Tensor gf = f32_contiguous(g);
                     Tensor dx, dw;
                     if (needs[0]) dx = Tensor::empty(xf.shape(), DType::F32, dev);
                     // Both kernels accumulate (+=) the weight gradient.
                     if (wf.defined() && needs[1]) dw = Tensor::zeros({C}, DType::F32, dev);
                     if (cuda) {
                       kernels::cuda::rmsnorm_backward(DType::F32, gf.data<float>(), xf.data<float>(),
                                                       wk.data<float>(), rstd.data<float>(), mut_ptr_or_null(dx),
                                                       mut_ptr_or_null(dw), N, C, /*accumulate_dx=*/false,
                                                       cuda_stream(xf));
                     } else {
                       kernels::cpu::rms_norm_backward_f32(gf.data<float>(), xf.data<float>(), ptr_or_null(wf),
                                                           rstd.data<float>(), N, C, mut_ptr_or_null(dx),
                                                           mut_ptr_or_null(dw));
                     }
                     return std::vector<Tensor>{dx.defined() ? cast_result(dx, x_dtype) : Tensor(),
                                                dw.defined() ? cast_result(dw, w_dtype) : Tensor()};
                   });
}

}  // namespace anvil::ops
