// dropout(x, p, gen): zeroes each element with probability p and scales survivors by 1/(1-p).
// The mask is Philox(gen.seed, offset + i) with offset = gen.take(numel), so backward
// regenerates it from (seed, offset) instead of saving it. p == 0 returns x itself (no copy,
// no RNG draw); the caller decides when dropout runs (training only).
#include "core/ops/op_utils.h"
#include "kernels/cpu/dropout.h"
#include "kernels/cuda/dropout.h"

namespace anvil::ops {

using namespace detail;

Tensor dropout(const Tensor& x, float p, Generator& gen) {
  check_floating(x, "dropout", "x");
  ANVIL_CHECK_OP(p >= 0.0f && p < 1.0f, "[dropout] p must be in [0, 1), got ", p, " for ", x.str());
  if (p == 0.0f) return x;
  const int64_t n = x.numel();
  const uint64_t seed = gen.seed;
  const uint64_t offset = gen.take(uint64_t(n));
  const bool cuda = x.device().is_cuda();
  Tensor xf = f32_contiguous(x);  // (n)
  Tensor y = Tensor::empty(x.shape(), DType::F32, x.device());
  if (cuda) {
    kernels::cuda::dropout_forward(DType::F32, xf.data<float>(), y.data<float>(), nullptr, n, p, seed, offset,
                                   cuda_stream(x));
  } else {
    kernels::cpu::dropout_apply_f32(xf.data<float>(), y.data<float>(), n, p, seed, offset);
  }
  const DType dtype = x.dtype();
  return record_op("DropoutBackward", {x}, cast_result(y, dtype),
                   [n, p, seed, offset, dtype, cuda](const Tensor& g, const std::vector<bool>&) {
                     Tensor gy = f32_contiguous(g);
                     Tensor gx = Tensor::empty(gy.shape(), DType::F32, gy.device());
                     if (cuda) {
                       kernels::cuda::dropout_backward(DType::F32, gy.data<float>(), gx.data<float>(), n, p, seed,
                                                       offset, cuda_stream(gy));
                     } else {
                       kernels::cpu::dropout_apply_f32(gy.data<float>(), gx.data<float>(), n, p, seed, offset);
                     }
                     return std::vector<Tensor>{cast_result(gx, dtype)};
                   });
}

}  // namespace anvil::ops
