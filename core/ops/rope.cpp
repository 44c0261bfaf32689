// Rotary position embedding (rope): Llama's rotate-half layout on x (B, H, T, D), matching Hugging
// Face's LlamaRotaryEmbedding + apply_rotary_pos_emb (angle computed in f32).
//
// The backward of a rotation is its transpose, the rotation by the negated angle; the (T, D/2)
// cos/sin tables are built once in the forward and kept for the backward.
#include "core/ops/op_utils.h"
#include "kernels/cpu/rope.h"
#include "kernels/cuda/rope.h"

namespace anvil::ops {

using namespace detail;

namespace {

// The CUDA path: kernels/cuda/rope on a contiguous f32 (B, H, T, D) copy, described to the kernel
// as (B, T, H, D) through strides; the backward is the kernel's inverse rotation.
Tensor rope_cuda(const Tensor& x, int64_t pos_offset, float theta) {
  const int64_t B = x.size(0), H = x.size(1), T = x.size(2), D = x.size(3);
  Tensor xf = f32_contiguous(x);                                  // (B, H, T, D)
  Tensor out = Tensor::empty(x.shape(), DType::F32, x.device());  // (B, H, T, D)
  kernels::cuda::RopeArgs args;
  args.dtype = DType::F32;
  args.batch = B;
  args.seq_len = T;
  args.heads = H;
  args.head_dim = D;
  const int64_t strides[3] = {H * T * D, D, T * D};  // batch, seq, head of a contiguous (B, H, T, D)
  for (int i = 0; i < 3; ++i) args.x_strides[i] = args.y_strides[i] = strides[i];
  args.theta = theta;
  args.position_offset = pos_offset;
  args.stream = cuda_stream(x);
  args.x = xf.data<float>();
  args.y = out.data<float>();
  if (x.numel() > 0) kernels::cuda::rope_forward(args);
  const DType dtype = x.dtype();
  return record_op("RopeBackward", {x}, cast_result(out, dtype), [args, dtype](const Tensor& g, const std::vector<bool>&) {
    Tensor gf = f32_contiguous(g);
    Tensor gx = Tensor::empty(gf.shape(), DType::F32, gf.device());
    kernels::cuda::RopeArgs b = args;
    b.x = gf.data<float>();
    b.y = gx.data<float>();
    if (gf.numel() > 0) kernels::cuda::rope_backward(b);
    return std::vector<Tensor>{cast_result(gx, dtype)};
  });
}

}  // namespace

Tensor rope(const Tensor& x, int64_t pos_offset, float theta) {
  check_floating(x, "rope", "x");
  ANVIL_CHECK_OP(x.dim() == 4, "[rope] expects x (B, H, T, D), got ", x.str());
  const int64_t T = x.size(2), D = x.size(3);
  ANVIL_CHECK_OP(D % 2 == 0 && D > 0, "[rope] head dim D must be even and positive, got x ", x.str());
  ANVIL_CHECK_OP(pos_offset >= 0, "[rope] pos_offset must be >= 0, got ", pos_offset, " for x ", x.str());
  ANVIL_CHECK_OP(theta > 0.0f, "[rope] theta must be > 0, got ", theta);
  const int64_t rows = x.size(0) * x.size(1);  // B * H
  if (x.device().is_cuda()) return rope_cuda(x, pos_offset, theta);
  Tensor cos_table = Tensor::empty({T, D / 2}, DType::F32), sin_table = Tensor::empty({T, D / 2}, DType::F32);
  kernels::cpu::rope_table_f32(T, D, pos_offset, theta, cos_table.data<float>(), sin_table.data<float>());
  Tensor xf = f32_contiguous(x);                      // (B, H, T, D)
  Tensor out = Tensor::empty(x.shape(), DType::F32);  // (B, H, T, D)
  kernels::cpu::rope_apply_f32(xf.data<float>(), cos_table.data<float>(), sin_table.data<float>(), rows, T, D,
                               /*inverse=*/false, out.data<float>());
  const DType dtype = x.dtype();
  const Shape shape = x.shape();
  return record_op("RopeBackward", {x}, cast_result(out, dtype),
                   [=](const Tensor& g, const std::vector<bool>&) {
                     Tensor gf = f32_contiguous(g);
                     Tensor gx = Tensor::empty(shape, DType::F32);
                     kernels::cpu::rope_apply_f32(gf.data<float>(), cos_table.data<float>(),
                                                  sin_table.data<float>(), rows, T, D, /*inverse=*/true,
                                                  gx.data<float>());
                     return std::vector<Tensor>{cast_result(gx, dtype)};
                   });
}

}  // namespace anvil::ops
